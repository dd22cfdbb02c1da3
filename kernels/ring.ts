// ring: a consumer of a producer index written by dom0 (the shape of the
// xenstore/netfront drivers of docs/architecture.md §4.3, reduced to one counter).
// The kernel allocates an unbound port for dom0 and publishes it in its
// shared page; dom0's producer thread (src/guest/peers.ts) binds to it, bumps
// `prod` and notifies, N times. The kernel consumes producer indices (never
// counts events: notifications coalesce) and waits with Activations.after.
// With the buggy unmask or the racy block a notification is lost and the
// kernel sleeps forever with cons < prod: the hang oracle fires.
import { Activations, Cmdline, Console, Eventchn, Lwt, Memory, kernel, program_start, type LwtT } from 'xenode/guest';
import { RING } from 'xenode/abi';

kernel(() => {
  const n = Number(Cmdline.args.count ?? 100);
  const port = Eventchn.alloc_unbound(Number(Cmdline.args.backend ?? 0));
  const page = new DataView(Memory.frame(RING.GPFN));
  page.setUint32(RING.CONS, 0, true);
  page.setUint32(RING.PORT, port, true);
  page.setUint32(RING.READY, 1, true);
  Eventchn.unmask(port);
  let c = program_start;
  let cons = 0;
  let waits = 0;
  const loop = (): LwtT<number> => {
    Memory.point('ring: read prod');
    const prod = page.getUint32(RING.PROD, true);
    if (prod !== cons) {
      cons = prod;
      page.setUint32(RING.CONS, cons, true);
    }
    if (cons >= n) {
      Console.log(`ring: consumed ${cons}/${n} after ${waits} waits`);
      return Lwt.return_(0);
    }
    waits++;
    return Activations.after(port, c).bind_((nc) => {
      c = nc;
      return loop();
    });
  };
  return loop();
});
