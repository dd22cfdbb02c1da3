// hello: prints, sleeps with Time.sleep_ns and with an RxJS interval, exits 0.
import { interval, take, lastValueFrom } from 'rxjs';
import { Console, Time, kernel, scheduler } from 'xenode/guest';

kernel(async () => {
  Console.log('Hello from xenode!');
  const t0 = Time.now_ns();
  await Time.sleep_ns(1_000_000_000);
  Console.log(`slept ${(Time.now_ns() - t0) / 1e6} ms (virtual)`);
  const ticks = await lastValueFrom(interval(250, scheduler()).pipe(take(4)));
  Console.log(`interval ticked ${ticks + 1} times, now ${(Time.now_ns() - t0) / 1e6} ms`);
  await new Promise<void>((r) => setTimeout(r, 100));
  Console.log(`setTimeout fired at ${(Time.now_ns() - t0) / 1e6} ms; Date ${new Date().toISOString()}`);
  Console.log('Goodbye.');
  return 0;
});
