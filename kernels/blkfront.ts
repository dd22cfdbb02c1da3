// blkfront: connects its vbd (the first device/vbd/<id>, xvda = 51712) and
// keeps `depth` page-sized requests in flight (io=write|read|rw), `count` in
// total (default: until the domain dies), then checks a write/read round trip.
// Hot-plug (`xl block-detach` / `block-attach`): the FrontendBus closes the
// disk when its backend goes Closing (requests in flight fail with -1 and are
// issued again), gives every grant back, and connects the next vbd that
// appears. Command line: io=write depth=4 count=100.
//
// Console lines: `blkfront: connected to <be>: N sectors of S bytes, info I`
// per connect, `blkfront: vbd D detached: grants G returned yes|no` per detach.
//xl: disk = [ 'format=raw, vdev=xvda, access=rw, target=mem:16' ]
import { Blkfront, Cmdline, Console, FrontendBus, Gnttab, Lwt, Time, Xs, kernel } from 'xenode/guest';

kernel(async () => {
  const mode = Cmdline.args.io ?? 'rw';
  const depth = Number(Cmdline.args.depth ?? 4);
  const count = Number(Cmdline.args.count ?? Infinity);
  const xs = Xs.connect();
  const gnt = Gnttab.get();
  const bus = new FrontendBus(xs, 'vbd', (id) => new Blkfront(xs, id), {
    attached: (bf) => Console.log(`blkfront: connected to ${bf.backend}: ${bf.sectors} sectors of ${bf.sectorSize} bytes, info ${bf.info}`),
    detached: (_bf, id, all) => Console.log(`blkfront: vbd ${id} detached: grants ${gnt.live} returned ${all ? 'yes' : 'no'}`),
  });
  bus.start();
  await bus.ready();
  let issued = 0;
  let done = 0;
  const worker = (w: number): Lwt.Lwt<void> => {
    if (issued >= count) return Lwt.return_unit;
    return bus.ready().bind_((bf) => {
      const n = issued++;
      const pages = Math.max(1, Math.floor(bf.sectors / 8));
      const op = mode === 'read' || (mode === 'rw' && n % 2 === 1) ? 'read' : 'write';
      const buf = new Uint8Array(4096).fill((n + w) & 0xff);
      return bf.io(op, (n % pages) * 8, buf).bind_((st) => {
        if (st !== -1) {
          done++;
          return worker(w);
        }
        // Not sent, or failed by a detach: issue it again once a disk is connected (after a tick, never a busy loop).
        issued--;
        return Time.sleep_ns(1e6).bind_(() => worker(w));
      });
    });
  };
  await Lwt.join(Array.from({ length: depth }, (_, w) => worker(w)));
  const bf = await bus.ready();
  const pattern = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
  await bf.io('write', 0, pattern);
  const back = new Uint8Array(4096);
  await bf.io('read', 0, back);
  const ok = back.every((v, i) => v === pattern[i]);
  Console.log(`blkfront: ${done} requests done, ${bf.stats.errors} errors, round trip ${ok ? 'ok' : 'MISMATCH'}`);
  return ok ? 0 : 1;
});
