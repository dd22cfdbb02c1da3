// netfront: connects its vif (the first device/vif/<id>) and sends a frame of
// `tx` bytes (default 1500: > 128, so netback copies the first 128 bytes and
// grant-maps the rest) every `interval` (default 1ms), `count` times
// (default: until the domain dies). Received frames are counted.
// Hot-plug (`xl network-detach` / `network-attach`): the FrontendBus closes
// the vif when its backend goes Closing, gives every grant back, and connects
// the next vif that appears; frames are sent only while one is connected.
// Command line: tx=1500 interval=1ms count=100 dst=ff:ff:ff:ff:ff:ff (the
// destination MAC: broadcast by default, or e.g. dom0's xenbr0 for unicast)
// mac=00:16:3e:00:00:01 (the source MAC: the vif's).
//
// Console lines: `netfront: connected to <be> (port P)` per connect,
// `netfront: vif D detached: grants G returned yes|no` per detach.
//xl: vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]
import { Cmdline, Console, FrontendBus, Gnttab, Netfront, Time, Xs, kernel } from 'xenode/guest';

function ns(s: string | undefined, dflt: number): number {
  if (!s) return dflt;
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s)?$/.exec(s);
  if (!m) return dflt;
  return Number(m[1]) * { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[(m[2] ?? 'ms') as 'ns' | 'us' | 'ms' | 's'];
}

function mac(s: string | undefined, dflt: number[]): number[] {
  const b = s?.split(':').map((x) => parseInt(x, 16));
  return b && b.length === 6 && b.every((x) => x >= 0 && x <= 255) ? b : dflt;
}

kernel(async () => {
  const size = Number(Cmdline.args.tx ?? 1500);
  const every = ns(Cmdline.args.interval, 1e6);
  const count = Number(Cmdline.args.count ?? Infinity);
  const xs = Xs.connect();
  const gnt = Gnttab.get();
  const bus = new FrontendBus(xs, 'vif', (id) => new Netfront(xs, id), {
    attached: (nf) => Console.log(`netfront: connected to ${nf.backend} (port ${nf.port})`),
    detached: (_nf, id, all) => Console.log(`netfront: vif ${id} detached: grants ${gnt.live} returned ${all ? 'yes' : 'no'}`),
  });
  bus.start();
  let nf = await bus.ready();
  const frame = new Uint8Array(size);
  frame.set(mac(Cmdline.args.dst, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0);
  frame.set(mac(Cmdline.args.mac, [0x00, 0x16, 0x3e, 0x00, 0x00, 0x01]), 6);
  frame[12] = 0x08;
  for (let i = 14; i < size; i++) frame[i] = i & 0xff;
  let sent = 0;
  for (let i = 0; i < count; i++) {
    const now = bus.first();
    if (now) {
      nf = now;
      if (nf.send(frame)) sent++;
    }
    await Time.sleep_ns(every);
  }
  Console.log(`netfront: sent ${sent} frames, ${nf.txInFlight} in flight`);
  return 0;
});
