// Boots, sleeps once (so its first resume returns), then spins forever in a
// later resume; `catch` swallows the over-budget throw and spins on.
import { Console, Time, kernel } from '../../../src/guest/index.ts';
kernel(async () => {
  Console.log('booted; spinning after a sleep');
  await Time.sleep_ns(1_000_000);
  Console.log('spinning now');
  let n = 0;
  for (;;) {
    try {
      for (;;) n++;
    } catch {
      n = 0;
    }
  }
});
