// Shared setup for the hypervisor tests: a sim, a hypervisor with a host
// dom0, guest domains, a recording GuestEntry, and struct writers for
// hypercall arguments (at gpfn 0 of the guest).
import type { GuestEntry } from '../../src/abi/doors.ts';
import { Sim } from '../../src/sim/index.ts';
import { Hypervisor, type Domain, type Vcpu } from '../../src/xen/index.ts';

export function setup(seed = 1, preemptOneIn = 0) {
  const sim = new Sim({ seed, preemptOneIn });
  const hv = new Hypervisor(sim);
  const dom0 = hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 1 << 20, vcpus: 1, host: true });
  return { sim, hv, dom0 };
}

export function guest(hv: Hypervisor, name = 'g', vcpus = 1, domid?: number): Domain {
  return hv.createDomain({ ...(domid === undefined ? {} : { domid }), name, memKiB: 256, vcpus });
}

/** A GuestEntry that records interrupts and runs `onResume` on each resume. */
export class RecEntry implements GuestEntry {
  vectors: number[] = [];
  resumes = 0;
  eoi = true;
  onInterrupt: ((vector: number) => void) | undefined;
  onResume: (() => void) | undefined;
  constructor(readonly v: Vcpu) {}
  interrupt(vector: number): void {
    this.vectors.push(vector);
    this.onInterrupt?.(vector);
    if (this.eoi) this.v.eoi();
  }
  resume(): void {
    this.resumes++;
    this.onResume?.();
  }
}

/** Pretend the guest is executing on `v` (so a test can call its doors directly). */
export function running(v: Vcpu, IF = true): RecEntry {
  const e = new RecEntry(v);
  v.entry = e;
  v.state = 'running';
  v.IF = IF;
  return e;
}

/** A DataView on the guest's gpfn 0, where tests put hypercall arguments. */
export function args(d: Domain): DataView {
  return d.physmap.view(0);
}

/** Snapshot of everything a failed hypercall must leave unchanged. */
export function snapshot(d: Domain): string {
  const ch = d.evtchn;
  return JSON.stringify([
    Array.from(ch.state), Array.from(ch.notify), Array.from(ch.remoteDom), Array.from(ch.remotePort),
    // vcpu_info.time (words 8..15 of each vcpu_info) legitimately moves at every door.
    Array.from(d.shared.u32).map((x, i) => (i < 512 && (i & 15) >= 8 ? 0 : x)), d.params.map(String), d.gnttab.nrFrames, d.callbackVector,
    d.vcpus.map((v) => [v.upcallVector, v.state, Array.from(v.lapic.irr), v.timerDeadline]),
  ]);
}

/** Index of the first difference of two snapshots (-1 if equal), for short failure messages. */
export function firstDiff(a: string, b: string): string {
  if (a === b) return '';
  let i = 0;
  while (a[i] === b[i]) i++;
  return `at ${i}: ...${a.slice(Math.max(0, i - 40), i + 40)}... vs ...${b.slice(Math.max(0, i - 40), i + 40)}...`;
}
