// netfront: connects vif 0 and sends a frame of `tx` bytes (default 1500:
// > 128, so netback copies the first 128 bytes and grant-maps the rest) every
// `interval` (default 1ms), `count` times (default: until the domain dies).
// Received frames are counted. Command line: tx=1500 interval=1ms count=100.
//xl: vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]
import { Cmdline, Console, Netfront, Time, Xs, kernel } from 'xenode/guest';

function ns(s: string | undefined, dflt: number): number {
  if (!s) return dflt;
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s)?$/.exec(s);
  if (!m) return dflt;
  return Number(m[1]) * { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[(m[2] ?? 'ms') as 'ns' | 'us' | 'ms' | 's'];
}

kernel(async () => {
  const size = Number(Cmdline.args.tx ?? 1500);
  const every = ns(Cmdline.args.interval, 1e6);
  const count = Number(Cmdline.args.count ?? Infinity);
  const xs = Xs.connect();
  const nf = new Netfront(xs, 0);
  await nf.connect();
  Console.log(`netfront: connected to ${nf.backend} (port ${nf.port})`);
  const frame = new Uint8Array(size);
  frame.fill(0xff, 0, 6);
  frame.set([0x00, 0x16, 0x3e, 0x00, 0x00, 0x01], 6);
  frame[12] = 0x08;
  for (let i = 14; i < size; i++) frame[i] = i & 0xff;
  for (let i = 0; i < count; i++) {
    nf.send(frame);
    await Time.sleep_ns(every);
  }
  Console.log(`netfront: sent ${nf.stats.txPackets} frames, ${nf.txInFlight} in flight`);
  return 0;
});
