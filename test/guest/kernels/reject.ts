import { kernel, Time } from '../../../src/guest/index.ts';
import { timer } from 'rxjs';
import { scheduler } from '../../../src/guest/index.ts';
kernel(async () => {
  await Time.sleep_ns(1000);
  timer(1, scheduler()).subscribe(() => {
    throw new Error('rx subscriber bug');
  });
  await Time.sleep_ns(1e9);
  return 0;
});
