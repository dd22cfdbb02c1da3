// frames: connects netfront and prints the lengths of the first `count`
// frames of EtherType 0x88b5 it receives (RxJS on Netfront.frames, with a
// virtual-time timeout), then exits 0. For test/guest/rx_netfront.test.ts.
import { filter, map, take, timeout, toArray } from 'rxjs';
import { Cmdline, Console, kernel, scheduler } from '../../../src/guest/index.ts';
import { Netfront } from '../../../src/guest/netfront.ts';
import { toLwt } from '../../../src/guest/rx.ts';
import { Xs } from '../../../src/guest/xs.ts';

kernel(async () => {
  const count = Number(Cmdline.args.count ?? 3);
  const nf = new Netfront(Xs.connect(), 0);
  // Subscribed before connect: no frame can slip past.
  const lengths = toLwt(
    nf.frames.pipe(
      filter((f) => f[12] === 0x88 && f[13] === 0xb5),
      map((f) => f.length),
      take(count),
      toArray(),
      timeout({ first: 5000, scheduler: scheduler() }),
    ),
  );
  await nf.connect();
  Console.log('frames: connected');
  Console.log(`frames: ${(await lengths).join(',')}`);
  return 0;
});
