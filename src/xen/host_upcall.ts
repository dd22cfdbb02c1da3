// The upcall of a host domain (dom0's kernel is host-side TypeScript): a
// Linux-like 2-level demux (drivers/xen/events/events_2l.c) run as a nestable
// sim Task, queued on the upcall_pending 0 -> 1 edge. Nestable because an
// interrupt on dom0 can run at any choice point, like an IRQ on another CPU.
//
// The demux, as Linux and the fixed Mini-OS do it:
//   1. upcall_pending = 0 (before looking: xen.h requires it)
//   2. swap the selector with 0
//   3. per selected word, snapshot pending & ~mask, and for each bit:
//      clear pending *before* calling the handler (a send during the handler
//      is a new event, not wiped)
//   4. again while upcall_pending was set meanwhile (the handler sent to us)
// The snapshot per word keeps a port that re-pends itself from starving the
// others. A raise while the task is running only asks for another pass (the
// "nested upcall" counter of Linux), so no allocation and no second queueing.
import { SHARED_INFO_U32, VCPU_INFO } from '../abi/xen.ts';
import type { Task } from '../sim/index.ts';
import type { Vcpu } from './vcpu.ts';

const PEND = SHARED_INFO_U32.pending;
const MASK = SHARED_INFO_U32.mask;

export class HostUpcall implements Task {
  readonly name: string;
  queued = false;
  readonly nestable = true;
  private active = false;
  /** Passes run (for tests and the bench). */
  passes = 0;

  constructor(private readonly v: Vcpu) {
    this.name = `d${v.dom.id}v${v.vcpuId} upcall`;
  }

  /** The upcall edge. */
  raise(): void {
    if (this.active) return; // the running pass re-checks upcall_pending
    this.v.dom.hv.sim.ready(this);
  }

  run(): void {
    if (this.active) return;
    const dom = this.v.dom;
    if (dom.dying) return;
    this.active = true;
    const u8 = dom.shared.u8;
    const o = this.v.vcpuId * VCPU_INFO.size;
    try {
      while (u8[o] !== 0) {
        u8[o] = 0;
        this.passes++;
        this.demux();
      }
    } finally {
      this.active = false;
    }
  }

  private demux(): void {
    const dom = this.v.dom;
    const u32 = dom.shared.u32;
    const ch = dom.evtchn;
    const handlers = ch.handlers;
    const tracing = dom.hv.trace.enabled;
    const si = this.v.vcpuId * SHARED_INFO_U32.vcpuStride + SHARED_INFO_U32.pendingSel;
    for (let half = 0; half < 2; half++) {
      let sel = u32[si + half]!;
      if (sel === 0) continue;
      u32[si + half] = 0;
      while (sel !== 0) {
        const bit = 31 - Math.clz32(sel & -sel);
        sel &= sel - 1;
        const word64 = half * 32 + bit;
        for (let k = 0; k < 2; k++) {
          const w = word64 * 2 + k;
          let bits = u32[PEND + w]! & ~u32[MASK + w]!;
          while (bits !== 0) {
            const b = bits & -bits;
            bits &= bits - 1;
            const port = w * 32 + 31 - Math.clz32(b);
            u32[PEND + w]! &= ~b;
            if (tracing) ch.endFlows(this.v.vcpuId, port);
            const h = handlers[port];
            if (h !== undefined) {
              try {
                h(port);
              } catch (e) {
                dom.hv.internalErrors.push(`d${dom.id} port ${port} handler: ${String((e as Error)?.stack ?? e)}`);
              }
            }
          }
        }
      }
    }
  }
}
