// dom0's event channels, as its Linux kernel sees them: the per-port IRQ table
// (drivers/xen/events/events_base.c: bind_evtchn_to_irqhandler) and the
// 2-level demux (events_2l.c: evtchn_2l_handle_events), run as a nestable sim
// Task queued on the upcall_pending 0 -> 1 edge. The hypervisor knows none of
// this: attachDom0Events() installs the demux as each vCPU's upcallHook, the
// way a guest registers its upcall vector. Nestable because an
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
import { SHARED_INFO_U32, VCPU_INFO } from '../../abi/xen.ts';
import type { Task } from '../../sim/index.ts';
import type { Domain, Vcpu } from '../../xen/index.ts';
import type { Dom0Host } from './host.ts';

export type PortHandler = (port: number) => void;

const PEND = SHARED_INFO_U32.pending;
const MASK = SHARED_INFO_U32.mask;

/** One vCPU's demux task. */
class VcpuDemux implements Task {
  readonly name: string;
  queued = false;
  readonly nestable = true;
  private active = false;
  /** Passes run (for tests and the bench). */
  passes = 0;

  constructor(
    private readonly v: Vcpu,
    /** The IRQ table, by port (shared by the vCPUs; grows on bind: ports are allocated lowest-free). */
    private readonly handlers: (PortHandler | undefined)[],
  ) {
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
    const handlers = this.handlers;
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

/** dom0's IRQ table and demux tasks (one per vCPU). */
export class Dom0Events {
  /** Handler per port; written only by bind()/unbind() (no `yield*` can interleave: plain calls). */
  private readonly handlers: (PortHandler | undefined)[] = [];
  private readonly demux: VcpuDemux[];

  constructor(readonly dom: Domain) {
    this.demux = dom.vcpus.map((v) => {
      const d = new VcpuDemux(v, this.handlers);
      v.upcallHook = () => d.raise();
      return d;
    });
  }

  /** bind_evtchn_to_irqhandler: run `fn(port)` from the demux when `port` fires (undefined: unbind). */
  bind(port: number, fn: PortHandler | undefined): number {
    if (port >>> 0 !== port || port === 0 || port >= 1 << 17) return -22; // -EINVAL
    this.handlers[port] = fn;
    return 0;
  }

  /** Demux passes run so far (tests and the bench). */
  get passes(): number {
    return this.demux.reduce((n, d) => n + d.passes, 0);
  }
}

/**
 * dom0's own view of the hypervisor for its kernel and daemons: its Domain's
 * event channels and grant table, plus the IRQ table above. Closing a port
 * also drops its handler, as unbind_from_irqhandler does.
 */
export function attachDom0Events(dom: Domain): Dom0Host & { events: Dom0Events } {
  const events = new Dom0Events(dom);
  const ev = dom.evtchn;
  return {
    id: dom.id,
    events,
    evtchn: {
      bindInterdomain: (rdom, rport) => ev.bindInterdomain(rdom, rport),
      send: (port) => ev.send(port),
      close: (port) => {
        const rc = ev.close(port);
        if (rc === 0) events.bind(port, undefined);
        return rc;
      },
    },
    gnttab: dom.gnttab,
    bindHandler: (port, fn) => events.bind(port, fn),
  };
}
