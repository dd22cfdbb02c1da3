// The hang oracle (guest-abi.md §4.7, §7). When nothing is runnable, look at
// every guest vCPU that is halted and every port it is notified on:
//   [1/0/0]  pending, unmasked, selector clear: the wedged port of the buggy
//            unmask (§4.2-4.3). Nothing will ever raise it again.
//   [1/0/1]  with upcall_pending = 1 while halted: the lost interrupt of
//            "check, then hlt" (§4.4): the upcall was taken (and EOI'd)
//            before hlt, so the LAPIC has nothing left to wake the vCPU.
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
  kind: 'wedged' | 'lost-interrupt' | 'storm';
  ports: number[];
  line: string;
}

/** Suspicious ports of halted guest vCPUs in `d`. */
export function suspects(d: Domain): Suspect[] {
  if (d.host || d.dying || d.paused || d.shutdownReason !== undefined) return [];
  const out: Suspect[] = [];
  const ch = d.evtchn;
  for (const v of d.vcpus) {
    if (v.storms > 0) out.push({ domid: d.id, vcpu: v.vcpuId, kind: 'storm', ports: [], line: `domain ${d.id}: vCPU ${v.vcpuId} interrupt storm (level callback vector re-injected ${v.storms}x)` });
    if (v.state !== 'halted') continue;
    const wedged: number[] = [];
    const lost: number[] = [];
    for (const port of ch.boundPorts()) {
      if (ch.notify[port] !== v.vcpuId || !ch.usable(port) || !ch.isPending(port) || ch.isMasked(port)) continue;
      if (!ch.selector(port)) wedged.push(port);
      else if (v.upcallPending) lost.push(port);
    }
    const list = (ps: number[], sig: string) => ps.map((p) => `port ${p} ${sig}`).join(', ');
    if (wedged.length) out.push({ domid: d.id, vcpu: v.vcpuId, kind: 'wedged', ports: wedged, line: `domain ${d.id}: vCPU ${v.vcpuId} halted with ${list(wedged, '[1/0/0]')} (wedged: pending, unmasked, selector clear)` });
    if (lost.length) out.push({ domid: d.id, vcpu: v.vcpuId, kind: 'lost-interrupt', ports: lost, line: `domain ${d.id}: vCPU ${v.vcpuId} halted with upcall_pending=1 and ${list(lost, '[1/0/1]')} (lost interrupt)` });
  }
  return out;
}

export function hangOracle(hv: Hypervisor): Oracle {
  return (): Hang | undefined => {
    const all = hv.domains().flatMap(suspects);
    if (all.length === 0) return undefined;
    return { summary: all[0]!.line, details: [...all.map((s) => s.line), '', dumpEvtchn(hv.domains())].join('\n') };
  };
}
