import { kernel, Eventchn } from '../../../src/guest/index.ts';
kernel(() => {
  Eventchn.notify(4000); // unbound port: -EINVAL
  return 0;
});
