// blkfront: connects vbd 51712 (xvda) and keeps `depth` page-sized requests
// in flight (io=write|read|rw), `count` in total (default: until the domain
// dies), then checks a write/read round trip. Command line: io=write depth=4 count=100.
//xl: disk = [ 'format=raw, vdev=xvda, access=rw, target=mem:16' ]
import { Blkfront, Cmdline, Console, Lwt, Xs, kernel } from 'xenode/guest';

kernel(async () => {
  const mode = Cmdline.args.io ?? 'rw';
  const depth = Number(Cmdline.args.depth ?? 4);
  const count = Number(Cmdline.args.count ?? Infinity);
  const bf = new Blkfront(Xs.connect());
  await bf.connect();
  Console.log(`blkfront: connected to ${bf.backend}: ${bf.sectors} sectors of ${bf.sectorSize} bytes, info ${bf.info}`);
  const pages = Math.max(1, Math.floor(bf.sectors / 8));
  let issued = 0;
  let done = 0;
  const worker = (w: number): Lwt.Lwt<void> => {
    if (issued >= count) return Lwt.return_unit;
    const n = issued++;
    const op = mode === 'read' || (mode === 'rw' && n % 2 === 1) ? 'read' : 'write';
    const buf = new Uint8Array(4096).fill((n + w) & 0xff);
    return bf.io(op, (n % pages) * 8, buf).bind_(() => {
      done++;
      return worker(w);
    });
  };
  await Lwt.join(Array.from({ length: depth }, (_, w) => worker(w)));
  const pattern = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
  await bf.io('write', 0, pattern);
  const back = new Uint8Array(4096);
  await bf.io('read', 0, back);
  const ok = back.every((v, i) => v === pattern[i]);
  Console.log(`blkfront: ${done} requests done, ${bf.stats.errors} errors, round trip ${ok ? 'ok' : 'MISMATCH'}`);
  return ok ? 0 : 1;
});
