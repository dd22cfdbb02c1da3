// Hypercalls with in-memory argument structs, as a PVH kernel makes them: the
// struct is written into a scratch page of the kernel's own memory and its
// guest-physical address is passed (layouts from abi/xen.ts). Scratch slots
// are a small stack so that an interrupt taken inside a hypercall (nested, as
// doors.ts describes) cannot overwrite the interrupted call's arguments.

import { utf8Encode } from './utf8.ts';
import type { GuestDoors } from '../abi/doors.ts';
import {
  DOMID_SELF, EVTCHN_ALLOC_UNBOUND, EVTCHN_BIND_INTERDOMAIN, EVTCHN_BIND_VIRQ, EVTCHN_PORT_ARG, EVTCHNOP,
  HVMOP, HYPERVISOR, PAGE_SIZE, SCHED_SHUTDOWN, SCHEDOP, XEN_ADD_TO_PHYSMAP, XEN_HVM_EVTCHN_UPCALL_VECTOR,
  XEN_HVM_PARAM, XENMAPSPACE, XENMEM_add_to_physmap, CONSOLEIO_write,
} from '../abi/xen.ts';

const SLOT = 256;
const SLOTS = PAGE_SIZE / SLOT;

export class HypercallError extends Error {
  constructor(readonly op: string, readonly rc: number) {
    super(`${op} failed: rc=${rc}`);
  }
}

export class Hyper {
  private depth = 0;
  private readonly slots: DataView[] = [];

  constructor(readonly doors: GuestDoors, readonly scratchGpfn: number, readonly consoleGpfn: number) {}

  /** A DataView on frame `gpfn` (fetch again after add_to_physmap). */
  view(gpfn: number): DataView {
    return new DataView(this.doors.frame(gpfn));
  }

  /** Run `f` with a zeroed argument slot; returns f's result. */
  private withSlot<R>(f: (dv: DataView, paddr: number) => R): R {
    const d = this.depth++;
    try {
      if (d >= SLOTS) throw new Error('hypercall argument slots exhausted (nested too deep)');
      const off = d * SLOT;
      // Every caller writes all the input fields of its struct: no zeroing needed.
      const dv = (this.slots[d] ??= new DataView(this.doors.frame(this.scratchGpfn), off, SLOT));
      return f(dv, this.scratchGpfn * PAGE_SIZE + off);
    } finally {
      this.depth--;
    }
  }

  private check(op: string, rc: number): number {
    if (rc < 0) throw new HypercallError(op, rc);
    return rc;
  }

  addToPhysmapSharedInfo(gpfn: number): void {
    this.withSlot((dv, pa) => {
      dv.setUint16(XEN_ADD_TO_PHYSMAP.domid, DOMID_SELF, true);
      dv.setUint16(XEN_ADD_TO_PHYSMAP.sz, 0, true);
      dv.setUint32(XEN_ADD_TO_PHYSMAP.space, XENMAPSPACE.shared_info, true);
      setU64(dv, XEN_ADD_TO_PHYSMAP.idx, 0);
      setU64(dv, XEN_ADD_TO_PHYSMAP.gpfn, gpfn);
      this.check('XENMEM_add_to_physmap', this.doors.hypercall(HYPERVISOR.memory_op, XENMEM_add_to_physmap, pa));
    });
  }

  setUpcallVector(vcpu: number, vector: number): void {
    this.withSlot((dv, pa) => {
      dv.setUint32(XEN_HVM_EVTCHN_UPCALL_VECTOR.vcpu, vcpu, true);
      dv.setUint32(XEN_HVM_EVTCHN_UPCALL_VECTOR.vector, vector, true);
      this.check('HVMOP_set_evtchn_upcall_vector', this.doors.hypercall(HYPERVISOR.hvm_op, HVMOP.set_evtchn_upcall_vector, pa));
    });
  }

  /** HVMOP_set_param; `hi`/`lo` are the two 32-bit halves of the 64-bit value. */
  setParam(index: number, lo: number, hi = 0): void {
    this.withSlot((dv, pa) => {
      dv.setUint16(XEN_HVM_PARAM.domid, DOMID_SELF, true);
      dv.setUint16(2, 0, true);
      dv.setUint32(XEN_HVM_PARAM.index, index, true);
      dv.setUint32(XEN_HVM_PARAM.value, lo >>> 0, true);
      dv.setUint32(XEN_HVM_PARAM.value + 4, hi >>> 0, true);
      this.check('HVMOP_set_param', this.doors.hypercall(HYPERVISOR.hvm_op, HVMOP.set_param, pa));
    });
  }

  getParam(index: number): number {
    return this.withSlot((dv, pa) => {
      dv.setUint16(XEN_HVM_PARAM.domid, DOMID_SELF, true);
      dv.setUint16(2, 0, true);
      dv.setUint32(XEN_HVM_PARAM.index, index, true);
      setU64(dv, XEN_HVM_PARAM.value, 0);
      this.check('HVMOP_get_param', this.doors.hypercall(HYPERVISOR.hvm_op, HVMOP.get_param, pa));
      return getU64(dv, XEN_HVM_PARAM.value);
    });
  }

  bindVirq(virq: number, vcpu: number): number {
    return this.withSlot((dv, pa) => {
      dv.setUint32(EVTCHN_BIND_VIRQ.virq, virq, true);
      dv.setUint32(EVTCHN_BIND_VIRQ.vcpu, vcpu, true);
      dv.setUint32(EVTCHN_BIND_VIRQ.port, 0, true);
      this.check('EVTCHNOP_bind_virq', this.doors.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.bind_virq, pa));
      return dv.getUint32(EVTCHN_BIND_VIRQ.port, true);
    });
  }

  allocUnbound(remoteDom: number): number {
    return this.withSlot((dv, pa) => {
      dv.setUint16(EVTCHN_ALLOC_UNBOUND.dom, DOMID_SELF, true);
      dv.setUint16(EVTCHN_ALLOC_UNBOUND.remote_dom, remoteDom, true);
      dv.setUint32(EVTCHN_ALLOC_UNBOUND.port, 0, true);
      this.check('EVTCHNOP_alloc_unbound', this.doors.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.alloc_unbound, pa));
      return dv.getUint32(EVTCHN_ALLOC_UNBOUND.port, true);
    });
  }

  bindInterdomain(remoteDom: number, remotePort: number): number {
    return this.withSlot((dv, pa) => {
      dv.setUint16(EVTCHN_BIND_INTERDOMAIN.remote_dom, remoteDom, true);
      dv.setUint16(2, 0, true);
      dv.setUint32(EVTCHN_BIND_INTERDOMAIN.remote_port, remotePort, true);
      dv.setUint32(EVTCHN_BIND_INTERDOMAIN.local_port, 0, true);
      this.check('EVTCHNOP_bind_interdomain', this.doors.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.bind_interdomain, pa));
      return dv.getUint32(EVTCHN_BIND_INTERDOMAIN.local_port, true);
    });
  }

  /** EVTCHNOP_send/unmask/close on one port (the hot path: no closure, no string unless it fails). */
  portOp(op: 'send' | 'unmask' | 'close', port: number): number {
    const d = this.depth++;
    try {
      if (d >= SLOTS) throw new Error('hypercall argument slots exhausted (nested too deep)');
      const off = d * SLOT;
      const dv = (this.slots[d] ??= new DataView(this.doors.frame(this.scratchGpfn), off, SLOT));
      dv.setUint32(EVTCHN_PORT_ARG.port, port, true);
      const rc = this.doors.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP[op], this.scratchGpfn * PAGE_SIZE + off);
      if (rc < 0) throw new HypercallError(`EVTCHNOP_${op}`, rc);
      return rc;
    } finally {
      this.depth--;
    }
  }

  /** set_timer_op(absolute system time ns; 0 cancels). */
  setTimer(deadline: number): void {
    this.check('set_timer_op', this.doors.hypercall(HYPERVISOR.set_timer_op, deadline));
  }

  shutdown(reason: number): void {
    this.withSlot((dv, pa) => {
      dv.setUint32(SCHED_SHUTDOWN.reason, reason, true);
      this.doors.hypercall(HYPERVISOR.sched_op, SCHEDOP.shutdown, pa);
    });
  }

  /** CONSOLEIO_write of a string (UTF-8), in page-sized chunks. */
  consoleWrite(s: string): void {
    const bytes = utf8Encode(s);
    const page = new Uint8Array(this.doors.frame(this.consoleGpfn));
    for (let off = 0; off < bytes.length; off += PAGE_SIZE) {
      const chunk = bytes.subarray(off, Math.min(bytes.length, off + PAGE_SIZE));
      page.set(chunk);
      this.doors.hypercall(HYPERVISOR.console_io, CONSOLEIO_write, chunk.length, this.consoleGpfn * PAGE_SIZE);
    }
  }
}

export function setU64(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(off + 4, Math.floor(v / 4294967296) >>> 0, true);
}

export function getU64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 4294967296;
}
