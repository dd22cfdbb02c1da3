// The hang oracle (docs/architecture.md §4.7). When nothing is runnable, look at
// every guest vCPU that is halted and every port it is notified on:
//   [1/0/0]  pending, unmasked, selector clear: the wedged port of the buggy
//            unmask (§4.2-4.3). Nothing will ever raise it again.
//   [1/0/1]  with upcall_pending = 1 while halted: the lost interrupt of
//            "check, then hlt" (§4.4): the upcall was taken (and EOI'd)
//            before hlt, so the LAPIC has nothing left to wake the vCPU.
//   [1/1/0]  masked after delivery (§4.5, the handler that demuxes and clears
//            upcall_pending): the port was delivered (Xen raised its selector
//            while the guest had an upcall vector, so the guest had unmasked
//            it), the guest masked it again (demux) and never unmasked it, and
//            the vCPU sleeps with no deliverable interrupt, not polling, and no
//            timer within a day. Later sends only set pending on the masked
//            port, so nothing will ever run its handler. Why this is sound for
//            a correct runtime: mirage/xenode mask a port in two places only,
//            mask_all at boot (BEFORE the upcall vector is set, so never-unmasked
//            ports such as a netfront port before connect or a console port the
//            guest ignores have delivered=0 and do not count) and demux, which
//            the main loop always follows with Activations.run ->
//            test_and_clear -> unmask before it can block. So a correct guest
//            never halts with a delivered port masked. Polling vCPUs are
//            excluded (SCHEDOP_poll legitimately waits on masked ports), and
//            so is any vCPU with a timer due within a day (the build may still
//            recover when it fires: this is reported only when the sleep is
//            for good, i.e. the 1-day idle deadline of Main.run or none).
// Either way the vCPU can sleep forever (or until an unrelated timer), so
// the run is reported with the 'e' dump. An interrupt storm (level callback
// with a handler that never clears upcall_pending) is reported too.
import type { Hang, Oracle } from '../sim/index.ts';
import { dumpEvtchn } from './debugkeys.ts';
import type { Domain } from './domain.ts';
import type { Hypervisor } from './hypervisor.ts';

export interface Suspect {
  domid: number;
  vcpu: number;
  kind: 'wedged' | 'lost-interrupt' | 'masked-after-delivery' | 'storm';
  ports: number[];
  line: string;
}

/** Suspicious ports of halted guest vCPUs in `d`. */
/** A set_timer_op deadline at least this far away counts as "no timer" (Main.run's idle deadline is now + 1 day). */
export const FOREVER_NS = 86_400 * 1e9;

/** `port 3 [1/0/1], port 4 [1/0/1]` (module level: suspects() runs at every idle step, and a named closure per call costs a defineProperty under tsx). */
function list(ps: number[], sig: string): string {
  return ps.map((p) => `port ${p} ${sig}`).join(', ');
}

/** Suspicious ports of halted guest vCPUs in `d`. `now`: the current time (ns). */
export function suspects(d: Domain, now = Number.NaN): Suspect[] {
  if (d.host || d.dying || d.paused || d.shutdownReason !== undefined) return [];
  const out: Suspect[] = [];
  const ch = d.evtchn;
  for (const v of d.vcpus) {
    if (v.livelock !== undefined) {
      out.push({ domid: d.id, vcpu: v.vcpuId, kind: 'storm', ports: [], line: `domain ${d.id}: vCPU ${v.vcpuId} livelocked in an ${v.livelock}` });
      continue;
    }
    if (v.state !== 'halted') continue;
    const wedged: number[] = [];
    const lost: number[] = [];
    for (const port of ch.boundPorts()) {
      if (ch.notify[port] !== v.vcpuId || !ch.usable(port) || !ch.isPending(port) || ch.isMasked(port)) continue;
      if (!ch.selector(port)) wedged.push(port);
      else if (v.upcallPending) lost.push(port);
    }
    // Masked after delivery: only when the sleep is for good (see the header).
    const masked: number[] = [];
    const quiet =
      !v.pollPorts &&
      v.lapic.deliverable() < 0 &&
      !(v.upcallVector === 0 && d.callbackVector !== 0 && v.upcallPending);
    // A timer due soon does not clear the suspicion: the verdict
    // (src/machine/verdict.ts) runs on to it and tells a stall (the timer's
    // wakeup rescued the port) from a hang.
    if (quiet && wedged.length === 0 && lost.length === 0) {
      for (const port of ch.boundPorts()) {
        if (ch.notify[port] === v.vcpuId && ch.usable(port) && ch.delivered[port] && ch.isPending(port) && ch.isMasked(port)) masked.push(port);
      }
    }
    if (wedged.length) out.push({ domid: d.id, vcpu: v.vcpuId, kind: 'wedged', ports: wedged, line: `domain ${d.id}: vCPU ${v.vcpuId} halted with ${list(wedged, '[1/0/0]')} (wedged: pending, unmasked, selector clear)` });
    if (lost.length) out.push({ domid: d.id, vcpu: v.vcpuId, kind: 'lost-interrupt', ports: lost, line: `domain ${d.id}: vCPU ${v.vcpuId} halted with upcall_pending=1 and ${list(lost, '[1/0/1]')} (lost interrupt)` });
    if (masked.length)
      out.push({
        domid: d.id, vcpu: v.vcpuId, kind: 'masked-after-delivery', ports: masked,
        line: `domain ${d.id}: vCPU ${v.vcpuId} halted, no interrupt or timer within a day, with ${list(masked, '[1/1/0]')} (masked after delivery: demuxed, never unmasked)`,
      });
  }
  return out;
}

/**
 * The oracle runs at every idle step, and with thousands of domains a walk
 * over all of them there made each event cost O(domains) (bench/scale.ts at
 * 10,000 domains spent four fifths of its traffic phase in suspects()). What
 * suspects() reads of a domain changes only when one of its vCPUs runs, when
 * the hypervisor changes one of its event channels (a send, a remote bind or
 * close), or when it is created or unpaused: those touch it (Domain.touch).
 * So a domain found clean stays clean until touched, and each idle step
 * looks at the touched domains only; a domain with suspects stays touched,
 * so the hang is reported again at the next idle step, as before. When there
 * is a hang the report is made over every domain, in domain order, as the
 * full walk made it. XENODE_ORACLE_AUDIT=1 checks every answer against the
 * full walk (the test suites pass under it).
 */
export function hangOracle(hv: Hypervisor, dirty: Domain[]): Oracle {
  const audit = typeof process !== 'undefined' && process.env.XENODE_ORACLE_AUDIT === '1';
  return (): Hang | undefined => {
    const now = hv.sim.clock.now;
    let kept = 0;
    for (let i = 0; i < dirty.length; i++) {
      const d = dirty[i]!;
      if (suspects(d, now).length > 0) dirty[kept++] = d;
      else d.oracleDirty = false;
    }
    dirty.length = kept;
    if (audit && (kept > 0) !== hv.domains().some((d) => suspects(d, now).length > 0)) {
      throw new Error(`hang oracle: the touched domains say ${kept > 0 ? 'hang' : 'no hang'}, the walk over every domain disagrees`);
    }
    if (kept === 0) return undefined;
    const all = hv.domains().flatMap((d) => suspects(d, now));
    return { summary: all[0]!.line, details: [...all.map((s) => s.line), '', dumpEvtchn(hv.domains())].join('\n') };
  };
}
