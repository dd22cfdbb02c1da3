// set_timer_op: each vCPU has one one-shot timer that sends VIRQ_TIMER to
// that vCPU (common/sched/core.c: do_set_timer_op, vcpu_singleshot_timer_fn).
//
// The argument is an absolute system time in ns (vcpu_info.time.system_time
// is sim now). 0 cancels. A deadline in the past or 2^50 ns or more ahead is
// replaced by now + 100 ms: Xen compares (uint64)(t - now) >= 2^50, so a past
// deadline wraps to a huge unsigned value. A guest that sets "now - 1"
// therefore sleeps 100 ms, not 0 (a real latency bug source).
//
// If VIRQ_TIMER is not bound (or its port is masked) the timer fires into
// nothing and a halted vCPU stays halted: the timer wakes through the event
// channel, never directly.
import { VIRQ, XEN_E } from '../abi/xen.ts';
import { NS } from '../sim/index.ts';
import type { Vcpu } from './vcpu.ts';

export const TIMER_FAR_FUTURE_NS = 2 ** 50;
export const TIMER_FALLBACK_NS = 100 * NS.ms;

export function setTimerOp(v: Vcpu, t: number): number {
  if (typeof t !== 'number' || !Number.isFinite(t) || !Number.isInteger(t)) return -XEN_E.EINVAL;
  const clock = v.dom.hv.sim.clock;
  if (t !== 0 && v.timer !== undefined && t === v.timerDeadline && t > clock.now) return 0; // same deadline: keep the armed timer (hot in guest loops)
  clock.cancel(v.timer);
  v.timer = undefined;
  v.timerDeadline = -1;
  if (t === 0) return 0;
  const now = clock.now;
  const at = t < now || t - now >= TIMER_FAR_FUTURE_NS ? now + TIMER_FALLBACK_NS : t;
  v.dom.hv.recorder?.timer(now, v.dom, v.vcpuId, at);
  v.timerDeadline = at;
  v.timer = clock.at(at, () => {
    v.timer = undefined;
    v.timerDeadline = -1;
    if (v.state === 'down') return;
    const tr = v.dom.hv.trace;
    if (tr.enabled) tr.instant(v.dom.id, v.vcpuId, 'VIRQ_TIMER');
    v.dom.evtchn.sendVirq(VIRQ.TIMER, v.vcpuId);
  }, `d${v.dom.id}v${v.vcpuId} singleshot`);
  return 0;
}
