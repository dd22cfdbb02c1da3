// Host-side peers for the example kernels (what `xenode run` and the tests
// start next to a kernel): dom0's producer thread for kernels/ring.ts.
import type { Hypervisor } from '../xen/hypervisor.ts';
import { SimThread, sleep, yieldNow, type Co } from '../sim/index.ts';
import { RING } from '../abi/ring_page.ts';

export interface ProducerOptions {
  count: number;
  /** dom0 domid (default 0) */
  backend?: number;
}

/** A dom0 kernel thread that feeds kernels/ring.ts: bind, then N x (prod++, notify), with seeded pauses. */
export function startRingProducer(hv: Hypervisor, domid: number, opts: ProducerOptions): SimThread & { stats: { sent: number; port: number } } {
  const dom0 = hv.domain(opts.backend ?? 0);
  if (!dom0) throw new Error('startRingProducer: no dom0');
  const stats = { sent: 0, port: -1 };
  const body = function* (): Co {
    const d = hv.domain(domid);
    if (!d) return;
    const page = new DataView(d.physmap.frame(RING.GPFN));
    while (page.getUint32(RING.READY, true) !== 1) {
      if (d.shutdownReason !== undefined) return;
      yield* sleep(1_000_000);
    }
    const lp = dom0.evtchn.bindInterdomain(domid, page.getUint32(RING.PORT, true));
    if (lp < 0) throw new Error(`ring producer: bind_interdomain failed: ${lp}`);
    stats.port = lp;
    for (let i = 1; i <= opts.count; i++) {
      page.setUint32(RING.PROD, i, true);
      dom0.evtchn.send(lp);
      stats.sent = i;
      // The workload's own stream: its pauses are not scheduling answers.
      const c = hv.sim.stream('ring-producer').choose(8);
      if (c === 0) yield* sleep(1_000_000);
      else yield* yieldNow();
    }
  };
  const t = new SimThread(hv.sim, 900 + domid, `ring-producer-${domid}`, body, ['ret_from_fork', 'kthread'], opts.backend ?? 0);
  return Object.assign(t, { stats });
}
