// dom0's event channels, as its Linux kernel sees them: the per-port IRQ table
// (drivers/xen/events/events_base.c: bind_evtchn_to_irqhandler) and the
// 2-level demux (events_2l.c: evtchn_2l_handle_events), run as a nestable sim
// Task queued on the upcall_pending 0 -> 1 edge. The hypervisor knows none of
// this: attachDom0Events() installs the demux as each vCPU's upcallHook, the
// way a guest registers its upcall vector. Nestable because an
// interrupt on dom0 can run at any choice point, like an IRQ on another CPU.
//
// The demux is the 2L walk of abi/evtchn_2l.ts (the order and its reasons are
// there), looped while upcall_pending was set meanwhile (a handler sent to us).
// A raise while the task is running only asks for another pass (the
// "nested upcall" counter of Linux), so no allocation and no second queueing.
//
// Like Linux (xen.fifo_events=1), dom0 uses the FIFO ABI when Xen offers it
// (events_fifo.ts: more than 4096 ports, one queue walk per upcall instead of
// the bitmaps) and stays on 2L otherwise; attachDom0Events(dom, '2l') keeps
// it on 2L.
import { VCPU_INFO } from '../../abi/xen.ts';
import { evtchn_2l_handle_events } from '../../abi/evtchn_2l.ts';
import type { Task } from '../../sim/index.ts';
import type { Domain, Vcpu } from '../../xen/index.ts';
import { Dom0Fifo } from './events_fifo.ts';
import type { Dom0Host } from './host.ts';

/** What bind_evtchn_to_irqhandler runs when the port fires (Linux irq_handler_t, given the port). */
export type IrqHandler = (port: number) => void;

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
    private readonly handlers: (IrqHandler | undefined)[],
    /** Each handler's name (`/proc/interrupts` style), for the flight recorder. */
    private readonly names: (string | undefined)[],
    /** The FIFO consumer, if dom0 switched to FIFO (else the 2L walk). */
    private readonly fifo: Dom0Fifo | undefined,
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
        if (this.fifo !== undefined) this.fifo.handleEvents(this.v.vcpuId, this.dispatch);
        else this.demux();
      }
    } finally {
      this.active = false;
    }
  }

  private demux(): void {
    evtchn_2l_handle_events(this.v.dom.shared.u32, this.v.vcpuId, this.dispatch);
  }

  /** One port found by the walk: end its trace flows, run its handler. */
  private readonly dispatch = (port: number): void => {
    const dom = this.v.dom;
    if (dom.hv.trace.enabled) dom.evtchn.endFlows(this.v.vcpuId, port);
    const h = this.handlers[port];
    if (h === undefined) return;
    // Sends made by the handler are the handler's (xenstored, xenconsoled, netback ...).
    const rec = dom.hv.recorder;
    const outer = rec ? rec.actor : '';
    if (rec) rec.actor = this.names[port] ?? `dom0 irq (port ${port})`;
    try {
      h(port);
    } catch (e) {
      dom.hv.internalErrors.push(`d${dom.id} port ${port} handler: ${String((e as Error)?.stack ?? e)}`);
    } finally {
      if (rec) rec.actor = outer;
    }
  };
}

/** dom0's IRQ table and demux tasks (one per vCPU). */
export class Dom0Events {
  /** Handler per port; written only by bind()/unbind() (no `yield*` can interleave: plain calls). */
  private readonly handlers: (IrqHandler | undefined)[] = [];
  private readonly names: (string | undefined)[] = [];
  private readonly demux: VcpuDemux[];
  /** Set when dom0 runs the FIFO ABI. */
  readonly fifo: Dom0Fifo | undefined;

  constructor(readonly dom: Domain, abi: '2l' | 'fifo' = 'fifo') {
    this.fifo = abi === 'fifo' ? Dom0Fifo.init(dom) : undefined;
    this.demux = dom.vcpus.map((v) => {
      const d = new VcpuDemux(v, this.handlers, this.names, this.fifo);
      v.upcallHook = () => d.raise();
      return d;
    });
  }

  /**
   * bind_evtchn_to_irqhandler: run `fn(port)` from the demux when `port`
   * fires (undefined: unbind). `name` is the handler's devname (who sent what
   * the handler sends, in the flight recorder).
   */
  bind(port: number, fn: IrqHandler | undefined, name?: string): number {
    if (port >>> 0 !== port || port === 0 || port >= 1 << 17) return -22; // -EINVAL
    // FIFO: the port gets its event word (evtchn_fifo_setup) and is unmasked
    // once its handler is in place (the irq's startup); unbinding masks it.
    if (this.fifo !== undefined && fn !== undefined) {
      const rc = this.fifo.setup(port);
      if (rc < 0) return rc;
    }
    this.handlers[port] = fn;
    this.names[port] = fn ? name : undefined;
    if (this.fifo !== undefined) {
      if (fn !== undefined) this.fifo.unmask(port);
      else this.fifo.mask(port);
    }
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
export function attachDom0Events(dom: Domain, abi: '2l' | 'fifo' = 'fifo'): Dom0Host & { events: Dom0Events } {
  const events = new Dom0Events(dom, abi);
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
    bindHandler: (port, fn, name) => events.bind(port, fn, name),
  };
}
