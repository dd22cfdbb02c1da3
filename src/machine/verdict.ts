// Hang or stall? The hang oracle only says "nothing can run now and a halted
// vCPU has a suspicious port"; it never decides the outcome. This looks again
// after running on to the halted vCPU's own next deadline (its set_timer_op
// timer, which raises VIRQ_TIMER):
//   hang     still halted after VIRQ_TIMER fired (the June 2020 dump: the
//            timer port reads [1/0/1] too), or no timer within RUN_ON_NS
//            (Main.run's idle deadline is a day away), or no timer at all;
//   stall    the vCPU woke for its timer and ran, but the port is still stuck
//            (wedged while the domain keeps running timers);
//   recovered  the timer's demux picked the port up (a port in the same
//            pending word is scanned with it): a transient stall, the run goes on.

import type { Hang, RunResult, Sim } from '../sim/index.ts';
import type { Hypervisor } from '../xen/hypervisor.ts';
import { suspects, type Suspect } from '../xen/oracle.ts';

/** How far past the suspicion we run on to see the halted vCPU's timer fire. */
export const RUN_ON_NS = 10e9;

export interface Verdict {
  outcome: 'hang' | 'stall' | 'recovered';
  /** One line for people. */
  detail: string;
  /** Virtual time when the oracle first suspected it (ns). */
  suspectedAt: number;
  suspects: Suspect[];
}

/**
 * Run on from an oracle's report and decide (see the header). Leaves the sim
 * where it decided. The trace gets the verdict as a global instant at the
 * time of the suspicion ("hang: …", "stall: …", "recovered: …"), so the
 * Perfetto timeline shows where it went wrong, not where we stopped looking.
 */
export function decideHang(sim: Sim, hv: Hypervisor, hang: Hang): Verdict {
  const v = decide(sim, hv, hang);
  const s = v.suspects[0];
  sim.trace.mark(`${v.outcome}: ${v.detail}`, {
    outcome: v.outcome,
    detail: v.detail,
    ...(s ? { vcpu: `d${s.domid}v${s.vcpu}`, ports: s.ports.join(',') } : {}),
    decided_at_ns: sim.now,
  }, v.suspectedAt);
  return v;
}

function decide(sim: Sim, hv: Hypervisor, hang: Hang): Verdict {
  const t0 = sim.now;
  const first = hv.domains().flatMap((d) => suspects(d, t0));
  const s = first[0];
  if (!s) return { outcome: 'recovered', detail: 'no suspect left', suspectedAt: t0, suspects: [] };
  const v = hv.domain(s.domid)?.vcpus[s.vcpu];
  if (!v || s.kind === 'storm') return { outcome: 'hang', detail: hang.summary, suspectedAt: t0, suspects: first };
  const dl = v.timerDeadline;
  if (dl < 0) return { outcome: 'hang', detail: `halted with no timer armed: nothing will wake vCPU ${s.vcpu} of domain ${s.domid}`, suspectedAt: t0, suspects: first };
  if (dl - t0 > RUN_ON_NS) {
    const h = ((dl - t0) / 3.6e12).toFixed(1);
    return { outcome: 'hang', detail: `halted; its only timer is ${h} h away (the main loop's idle deadline): it sleeps until then`, suspectedAt: t0, suspects: first };
  }
  const wakesBefore = v.injections;
  const oracles = sim.oracles.splice(0);
  let r: RunResult;
  try {
    r = sim.run({ until: dl + 1e6, maxSteps: 2_000_000 });
  } finally {
    sim.oracles.push(...oracles);
  }
  void r;
  const now = hv.domains().flatMap((d) => suspects(d, sim.now));
  const same = now.filter((x) => x.domid === s.domid && x.vcpu === s.vcpu);
  const woke = v.injections > wakesBefore || v.state !== 'halted';
  const ms = ((dl - t0) / 1e6).toFixed(3);
  if (same.length > 0 && !woke) {
    return { outcome: 'hang', detail: `still halted after VIRQ_TIMER fired (${ms} ms after the suspicion): the timer raised no new upcall`, suspectedAt: t0, suspects: now };
  }
  const stuck = first.flatMap((x) => x.ports).filter((p) => hv.domain(s.domid)?.evtchn.isPending(p) && !hv.domain(s.domid)?.evtchn.selector(p));
  if (stuck.length > 0) {
    return { outcome: 'stall', detail: `port ${stuck.join(', ')} wedged while the domain keeps running timers (woke for VIRQ_TIMER after ${ms} ms)`, suspectedAt: t0, suspects: now.length ? now : first };
  }
  return { outcome: 'recovered', detail: `recovered when its timer fired ${ms} ms later (the timer's demux scanned the stuck port's word)`, suspectedAt: t0, suspects: first };
}
