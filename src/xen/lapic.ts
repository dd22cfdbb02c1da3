// The part of a local APIC that event delivery needs: IRR (requested),
// ISR (in service), EOI, and priority by class (vector >> 4).
//
// Why it matters: the per-vCPU upcall vector (HVMOP_set_evtchn_upcall_vector)
// is delivered through the LAPIC like an MSI, i.e. *edge*: one IRR bit per
// 0 -> 1 edge of upcall_pending. Once the guest has taken it (IRR -> ISR), a
// `hlt` sees an empty IRR and sleeps, even if upcall_pending is still 1. That
// is the lost interrupt of docs/architecture.md §4.4.

export class Lapic {
  readonly irr = new Uint32Array(8);
  readonly isr = new Uint32Array(8);
  /** IRR may be non-empty (set by set(), cleared when a scan finds it empty): deliverable() is O(1) when idle. */
  private irrMaybe = false;
  /** Likewise for ISR (set by ack()). */
  private isrMaybe = false;

  /** vlapic_set_irq: request `vector`. Returns true if the IRR bit was newly set. */
  set(vector: number): boolean {
    const w = vector >> 5;
    const b = 1 << (vector & 31);
    if (this.irr[w]! & b) return false;
    this.irr[w]! |= b;
    this.irrMaybe = true;
    return true;
  }

  /** The highest vector of the IRR that may interrupt what is in service, or -1. */
  deliverable(): number {
    if (!this.irrMaybe) return -1;
    const r = highest(this.irr);
    if (r < 0) {
      this.irrMaybe = false;
      return -1;
    }
    const s = this.isrMaybe ? highest(this.isr) : -1;
    return s < 0 || r >> 4 > s >> 4 ? r : -1;
  }

  /** The CPU takes `vector`: IRR -> ISR. */
  ack(vector: number): void {
    const w = vector >> 5;
    const b = 1 << (vector & 31);
    this.irr[w]! &= ~b;
    this.isr[w]! |= b;
    this.isrMaybe = true;
  }

  /** EOI: retire the highest vector in service (no-op when none). */
  eoi(): void {
    if (!this.isrMaybe) return;
    const s = highest(this.isr);
    if (s >= 0) this.isr[s >> 5]! &= ~(1 << (s & 31));
    else this.isrMaybe = false;
  }

  requested(vector: number): boolean {
    return ((this.irr[vector >> 5]! >>> (vector & 31)) & 1) === 1;
  }

  inService(vector: number): boolean {
    return ((this.isr[vector >> 5]! >>> (vector & 31)) & 1) === 1;
  }
}

function highest(bm: Uint32Array): number {
  for (let w = 7; w >= 0; w--) {
    const x = bm[w]!;
    if (x !== 0) return w * 32 + 31 - Math.clz32(x);
  }
  return -1;
}
