import { kernel } from '../../../src/guest/index.ts';
kernel(() => {
  for (;;) {}
});
