// Fuzz target `hypercall`: a hostile guest (domain 1, beside a bystander
// domain 2 bound to it by an event channel) makes hypercalls with random op
// numbers, sub-ops and arguments (0, small, page-crossing, past the end of its
// memory, negative, fractional) over a random argument page.
//
// Invariants after every call: no internal error in the hypervisor (a throw
// inside a hypercall is caught and recorded there); the result is 0, a
// positive value, or a negative errno Xen knows; a call that failed changed
// none of the domain's event channels, grant frames, params or vCPU state;
// the bystander's port to domain 1 still works. sched_op shutdown/poll/block
// are left out (they end or suspend the caller, which is not a fault).
import { EVTCHNOP, HYPERVISOR, SCHEDOP, XEN_E } from '../../abi/xen.ts';
import { Choices, Sim } from '../../sim/index.ts';
import { Hypervisor, type Domain, type Vcpu } from '../../xen/index.ts';
import type { FuzzBudget, FuzzResult } from './types.ts';

export const HYPERCALL_INVARIANTS = [
  'no internal error in the hypervisor',
  'result is >= 0 or a known -errno',
  'a failed call changes no event channel, grant frame, param or vCPU state',
  "the bystander's event channel to the guest still delivers",
];

const ERRNOS = new Set<number>(Object.values(XEN_E).map((e) => -e));
const OPS = Object.values(HYPERVISOR);

/** What a failed hypercall must leave unchanged (as test/xen's snapshot, without the moving vcpu_info.time). */
function state(d: Domain): string {
  const ch = d.evtchn;
  return JSON.stringify([
    Array.from(ch.state), Array.from(ch.notify), Array.from(ch.remoteDom), Array.from(ch.remotePort),
    Array.from(d.shared.u32).map((x, i) => (i < 512 && (i & 15) >= 8 ? 0 : x)), d.params.map(String), d.gnttab.nrFrames, d.callbackVector,
    d.vcpus.map((v) => [v.upcallVector, v.state, Array.from(v.lapic.irr)]),
  ]);
}

function running(v: Vcpu): void {
  v.entry = { interrupt: () => v.eoi(), resume: () => {} };
  v.state = 'running';
  v.IF = true;
}

function arg(r: Choices, far: number): number {
  switch (r.choose(8)) {
    case 0: return 0;
    case 1: return r.choose(16);
    case 2: return r.choose(4096);
    case 3: return far - r.choose(16);
    case 4: return far + r.choose(1 << 20);
    case 5: return -1 - r.choose(100);
    case 6: return r.choose(100) + 0.5;
    default: return r.choose(2 ** 31);
  }
}

export function fuzzHypercalls(seed: number, budget: FuzzBudget): FuzzResult {
  const r = Choices.derive(seed, 'fuzz hypercall');
  const sim = new Sim({ seed });
  const hv = new Hypervisor(sim);
  hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 1 << 20, vcpus: 1, host: true });
  let g = hv.createDomain({ domid: 1, name: 'hostile', memKiB: 256, vcpus: 1 });
  const by = hv.createDomain({ domid: 2, name: 'bystander', memKiB: 256, vcpus: 1 });
  running(g.vcpus[0]!);
  running(by.vcpus[0]!);
  const bind = () => {
    const p = g.evtchn.allocUnbound(2);
    if (typeof p !== 'number' || p < 0) throw new Error(`fuzz: alloc_unbound ${p}`);
    const q = by.evtchn.bindInterdomain(1, p);
    if (typeof q !== 'number' || q < 0) throw new Error(`fuzz: bind_interdomain ${q}`);
    return q;
  };
  let byPort = bind();
  const t0 = performance.now();
  let frames = 0;
  let reborn = 0;
  // A new hostile guest (the old one shut down, or closed the bystander's channel) and a new binding to it.
  const rebirth = () => {
    reborn++;
    hv.destroyDomain(1);
    g = hv.createDomain({ domid: 1, name: 'hostile', memKiB: 256, vcpus: 1 });
    running(g.vcpus[0]!);
    by.evtchn.close(byPort);
    byPort = bind();
  };
  const result = (failure?: string): FuzzResult => ({
    target: 'hypercall', frames, seconds: (performance.now() - t0) / 1000, invariants: HYPERCALL_INVARIANTS, ...(failure ? { failure } : {}),
    notes: [`guest domain re-created after it closed its own ports or shut down: ${reborn}`],
  });
  while (frames < budget.count && performance.now() - t0 < budget.seconds * 1000) {
    const v = g.vcpus[0]!;
    const far = g.physmap.nrFrames * 4096;
    // Random bytes on the argument page (gpfn 0), where most ops read their struct.
    const page = new DataView(g.physmap.frame(0));
    for (let i = 0, n = r.choose(8); i < n; i++) page.setUint32(r.choose(1024) * 4, r.oneIn(2) ? r.choose(16) : r.choose(2 ** 32) >>> 0, true);
    const op = r.oneIn(10) ? r.choose(64) : OPS[r.choose(OPS.length)]!;
    const sub = r.oneIn(4) ? r.choose(64) : r.choose(16);
    if (op === HYPERVISOR.sched_op && (sub === SCHEDOP.shutdown || sub === SCHEDOP.block || sub === SCHEDOP.poll || sub === SCHEDOP.remote_shutdown || sub === SCHEDOP.shutdown_code)) continue;
    if (op === HYPERVISOR.event_channel_op && (sub === EVTCHNOP.reset || sub === EVTCHNOP.close)) {
      // Closing its own ports is legal: the bystander check would then fail for the wrong reason.
      if (!r.oneIn(20)) continue;
    }
    const before = state(g);
    const rc = v.hypercall(op, sub, arg(r, far), arg(r, far), arg(r, far));
    frames++;
    if (hv.internalErrors.length > 0) return result(`call ${frames}: hypercall ${op}/${sub}: ${hv.internalErrors[0]!.split('\n')[0]}`);
    if (!Number.isFinite(rc) || (rc < 0 && !ERRNOS.has(rc))) return result(`call ${frames}: hypercall ${op}/${sub} returned ${rc}`);
    if (rc < 0 && state(g) !== before) return result(`call ${frames}: hypercall ${op}/${sub} failed (${rc}) but changed the domain's state`);
    if (frames % 64 === 0 || (op === HYPERVISOR.event_channel_op && (sub === EVTCHNOP.reset || sub === EVTCHNOP.close))) {
      const sent = by.evtchn.send(byPort);
      if (sent !== 0) {
        // The guest closed or reset the other end: a new guest, a new binding.
        rebirth();
        if (by.evtchn.send(byPort) !== 0) return result(`call ${frames}: the bystander cannot send to a fresh guest`);
      }
    }
    if (g.shutdownReason !== undefined || g.dying) rebirth();
  }
  return result();
}
