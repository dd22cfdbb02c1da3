// Event channels, guest side (mirage-xen lib/bindings/evtchn.c analogue).
//
// Top half: the upcall vector handler only EOIs (docs/architecture.md §4.5). Bottom
// half: `demux_pending()`, run from the main loop, clears
// evtchn_upcall_pending BEFORE swapping out evtchn_pending_sel, then for each
// selected word, while `pending & ~mask` is non-zero, masks each port, clears
// its pending bit (before any dispatch) and sets shadow[port]. Activations.run
// later calls `test_and_clear(port)`, which clears the shadow and unmasks: clear
// the mask bit, test the *pending* bit, and if it is set (an event came while
// masked: its edge was lost) re-mask and EVTCHNOP_unmask so that Xen re-raises
// it (Xen acts only on a masked->unmasked transition, §2.2).
//
// Every access to shared_info that matters for a race is preceded by
// doors.point(label): the simulator may run a dom0 thread or another domain
// there, and may deliver the upcall vector there.

import type { GuestDoors } from '../abi/doors.ts';
import { EVTCHN_2L_NR_CHANNELS, SHARED_INFO, VCPU_INFO } from '../abi/xen.ts';
import type { Hyper } from './hypercall.ts';
import { buildVariant, type Variant } from '../abi/variant.ts';

const PEND = SHARED_INFO.evtchn_pending >> 2;
const MASK = SHARED_INFO.evtchn_mask >> 2;

export class Evtchn {
  /** Ports found by demux and not yet test_and_clear'ed (mirage's evtchn_callback_ml). */
  readonly shadow = new Uint8Array(EVTCHN_2L_NR_CHANNELS);
  /** Shadow ports in the order demux found them: the first nfound slots (the array is reused). */
  found: number[] = [];
  nfound = 0;
  private u8!: Uint8Array;
  private u32!: Uint32Array;
  private readonly vi: number;
  private readonly sel: number;
  /** Upcalls taken since the main loop last demuxed. */
  upcalls = 0;
  /** >0 while the handler demuxes in interrupt context (labels its steps `irq:`). */
  private depth = 0;

  constructor(
    readonly doors: GuestDoors,
    readonly hyper: Pick<Hyper, 'portOp'>,
    readonly siGpfn: number,
    readonly vcpu = 0,
    readonly variant: Variant = buildVariant,
  ) {
    this.vi = SHARED_INFO.vcpu_info + vcpu * VCPU_INFO.size;
    this.sel = (this.vi + VCPU_INFO.evtchn_pending_sel) >> 2;
    this.remap();
  }

  /** Re-fetch the shared_info frame (after XENMEM_add_to_physmap). */
  remap(): void {
    const buf = this.doors.frame(this.siGpfn);
    this.u8 = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf);
  }

  get upcall_pending(): number {
    return this.u8[this.vi + VCPU_INFO.evtchn_upcall_pending]!;
  }

  /** Solo5 evtchn_init: 2L has no per-port init, so mask every port at boot. */
  mask_all(): void {
    for (let i = 0; i < 128; i++) this.u32[MASK + i] = 0xffffffff;
  }

  mask(port: number): void {
    this.doors.point('evtchn:mask', port);
    this.u32[MASK + (port >> 5)]! |= 1 << (port & 31);
  }

  is_masked(port: number): boolean {
    return (this.u32[MASK + (port >> 5)]! & (1 << (port & 31))) !== 0;
  }

  is_pending(port: number): boolean {
    return (this.u32[PEND + (port >> 5)]! & (1 << (port & 31))) !== 0;
  }

  /** Unmask `port`, re-raising an event that arrived while it was masked. */
  unmask(port: number): void {
    const i = port >> 5;
    const bit = 1 << (port & 31);
    this.doors.point('unmask:clear mask', port);
    this.u32[MASK + i]! &= ~bit;
    this.doors.point(this.variant.unmask === 'checks-mask' ? 'unmask:test mask (as pending)' : 'unmask:test pending', port);
    const pending =
      this.variant.unmask === 'checks-mask'
        ? (this.u32[MASK + i]! & bit) !== 0 // the f4b47d1 bug: always 0 right after clearing it
        : (this.u32[PEND + i]! & bit) !== 0;
    if (pending) {
      // "There was a race, and we lost the upcall": make Xen see masked -> unmasked.
      this.u32[MASK + i]! |= bit;
      this.hyper.portOp('unmask', port);
    }
  }

  /** Bottom half. Returns whether any port was found. */
  demux_pending(): boolean {
    const u8 = this.u8;
    const u32 = this.u32;
    const irq = this.depth > 0;
    if (!irq) this.upcalls = 0;
    this.doors.point(irq ? 'irq:demux:clear upcall_pending' : 'demux:clear upcall_pending');
    u8[this.vi + VCPU_INFO.evtchn_upcall_pending] = 0;
    this.doors.point(irq ? 'irq:demux:xchg pending_sel' : 'demux:xchg pending_sel');
    const selLo = u32[this.sel]!;
    const selHi = u32[this.sel + 1]!;
    u32[this.sel] = 0;
    u32[this.sel + 1] = 0;
    let found = false;
    for (let half = 0; half < 2; half++) {
      let s = half === 0 ? selLo : selHi;
      while (s !== 0) {
        const b = 31 - Math.clz32(s & -s);
        s &= s - 1;
        if (this.scanWord(half * 32 + b, irq)) found = true;
      }
    }
    // Ports an interrupt-context demux left in the shadow count too.
    return found || this.nfound > 0;
  }

  private scanWord(w: number, irq: boolean): boolean {
    const u32 = this.u32;
    let found = false;
    for (;;) {
      this.doors.point(irq ? 'irq:demux:read pending word' : 'demux:read pending word');
      const lo = u32[PEND + 2 * w]! & ~u32[MASK + 2 * w]!;
      const hi = u32[PEND + 2 * w + 1]! & ~u32[MASK + 2 * w + 1]!;
      if (lo === 0 && hi === 0) return found;
      for (let h = 0; h < 2; h++) {
        let bits = h === 0 ? lo : hi;
        const idx = 2 * w + h;
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits & -bits);
          bits &= bits - 1;
          const bit = 1 << b;
          const port = idx * 32 + b;
          this.doors.point(irq ? 'irq:demux:mask port' : 'demux:mask port', port);
          u32[MASK + idx]! |= bit;
          this.doors.point(irq ? 'irq:demux:clear pending' : 'demux:clear pending', port);
          u32[PEND + idx]! &= ~bit;
          if (this.shadow[port] === 0) {
            this.shadow[port] = 1;
            this.found[this.nfound++] = port;
          }
          found = true;
        }
      }
    }
  }

  /** Shadow set? Clear it and unmask the port (mirage's evtchn_test_and_clear). */
  test_and_clear(port: number): boolean {
    if (this.shadow[port] === 0) return false;
    this.shadow[port] = 0;
    this.unmask(port);
    return true;
  }

  /** Take the list of shadow ports found so far (Activations.run walks it). */
  take_found(): number[] {
    const f = this.found.slice(0, this.nfound);
    this.nfound = 0;
    return f;
  }

  /**
   * The upcall vector handler (top half). Fixed runtime: only EOI (mirage-xen's
   * solo5__xen_evtchn_vector_handler returns 1 so Solo5 EOIs); upcall_pending
   * is cleared by the main loop's demux alone, so `block` can use it as
   * "anything since the last demux?".
   *
   * Variant handler-clears-upcall-pending (Solo5's default handler, Mini-OS
   * do_hypervisor_callback): demux right here, in interrupt context. The race
   * it opens, as an interleaving:
   *   1. Main.run: demux_pending() finds nothing;
   *   2. an event arrives, the upcall is taken at once (IF=1);
   *   3. the handler demuxes: upcall_pending = 0, masks the port, shadow = 1;
   *   4. block: cli; upcall_pending == 0, so set_timer_op; sti; hlt;
   *   5. the port stays masked with its shadow set until some timer wakes the
   *      vCPU: later sends only set its pending bit ([1/1/0]).
   * Ports the handler found before step 1 are not lost: demux_pending()
   * reports shadow ports it did not find itself too.
   */
  handler(_vector: number): void {
    this.upcalls++;
    if (this.variant.handler === 'clears-upcall-pending') {
      this.depth++;
      try {
        this.demux_pending();
      } finally {
        this.depth--;
      }
    }
    this.doors.eoi();
  }
}
