// Hypercall dispatch: decode the struct arguments from guest memory (layouts
// in abi/xen.ts), call the same operations the host API uses, write the OUT
// fields back. Every pointer is checked (-EFAULT), every index (-EINVAL /
// -ENOENT), unknown ops give -ENOSYS; a failed call changes nothing.
import {
  CONSOLEIO_read, CONSOLEIO_write, DOMID_SELF, EVTCHN_ALLOC_UNBOUND, EVTCHN_BIND_INTERDOMAIN, EVTCHN_BIND_IPI,
  EVTCHN_BIND_VCPU, EVTCHN_BIND_VIRQ, EVTCHN_PORT_ARG, EVTCHN_STATUS, EVTCHNOP, HVMOP, HYPERVISOR, PAGE_SIZE,
  UPCALL_VECTOR_MIN, XEN_ADD_TO_PHYSMAP, XEN_E, XEN_HVM_EVTCHN_UPCALL_VECTOR, XEN_HVM_PARAM, XEN_VERSION_MAJOR,
  XEN_VERSION_MINOR, XENMAPIDX_grant_table_status, XENMAPSPACE, XENMEM_add_to_physmap, XENVER_version,
} from '../abi/xen.ts';
import {
  EVTCHN_EXPAND_ARRAY, EVTCHN_INIT_CONTROL, EVTCHN_RESET, EVTCHN_SET_PRIORITY, EVTCHNOP_FIFO,
} from '../abi/evtchn_fifo.ts';
import type { Domain } from './domain.ts';
import { evtchnReset, FIFO_LINK_BITS, fifoExpandArray, fifoInitControl, fifoSetPriority } from './evtchn_fifo.ts';
import { grantTableOp, MAX_GRANT_FRAMES } from './gnttab.ts';
import { hypercallLabel } from './hypercall_trace.ts';
import { schedOp } from './sched.ts';
import { setTimerOp } from './timer.ts';
import type { Vcpu } from './vcpu.ts';

const EFAULT = -XEN_E.EFAULT;

/** Coerce a register value: anything that is not a finite number becomes -1 (fails every range check). */
function reg(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : -1;
}

export function dispatchHypercall(v: Vcpu, op: number, a1: number, a2: number, a3: number, _a4: number, _a5: number): number {
  const x1 = reg(a1);
  const x2 = reg(a2);
  let rc: number;
  switch (op) {
    case HYPERVISOR.event_channel_op: rc = eventChannelOp(v, x1, x2); break;
    case HYPERVISOR.sched_op: rc = schedOp(v, x1, x2); break;
    case HYPERVISOR.set_timer_op: rc = setTimerOp(v, x1); break;
    case HYPERVISOR.hvm_op: rc = hvmOp(v, x1, x2); break;
    case HYPERVISOR.memory_op: rc = memoryOp(v, x1, x2); break;
    case HYPERVISOR.grant_table_op: rc = grantTableOp(v, x1, x2, reg(a3)); break;
    case HYPERVISOR.console_io: rc = consoleIo(v, x1, x2, reg(a3)); break;
    case HYPERVISOR.xen_version: rc = x1 === XENVER_version ? (XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR : -XEN_E.ENOSYS; break;
    default: rc = -XEN_E.ENOSYS;
  }
  const tr = v.dom.hv.trace;
  if (tr.enabled) {
    const l = hypercallLabel(v.dom.physmap, op, x1, x2, reg(a3), rc);
    tr.slice(v.dom.id, v.vcpuId, l.name, 1, l.args, 'hypercall');
  }
  return rc;
}

/** DOMID_SELF or our own id, or (privileged) any live domain; else -errno. */
function targetDomain(v: Vcpu, domid: number): Domain | number {
  const d = v.dom;
  if (domid === DOMID_SELF || domid === d.id) return d;
  if (!d.privileged) return -XEN_E.EPERM;
  return d.hv.domain(domid) ?? -XEN_E.ESRCH;
}

function eventChannelOp(v: Vcpu, cmd: number, arg: number): number {
  const pm = v.dom.physmap;
  const ev = v.dom.evtchn;
  switch (cmd) {
    // send/unmask/close take { port } (EVTCHN_PORT_ARG): read it without a closure, they are the hot ones.
    // (The struct ops are in another function: their closures capture locals, which would make
    // every call here allocate a context.)
    case EVTCHNOP.send: {
      const port = pm.readU32(arg + EVTCHN_PORT_ARG.port);
      return port < 0 ? EFAULT : ev.send(port, v.vcpuId, v.actor);
    }
    case EVTCHNOP.unmask: {
      const port = pm.readU32(arg + EVTCHN_PORT_ARG.port);
      return port < 0 ? EFAULT : ev.unmask(port, v.actor);
    }
    case EVTCHNOP.close: {
      const port = pm.readU32(arg + EVTCHN_PORT_ARG.port);
      return port < 0 ? EFAULT : ev.close(port);
    }
    default:
      return eventChannelStructOp(v, cmd, arg);
  }
}

function eventChannelStructOp(v: Vcpu, cmd: number, arg: number): number {
  const pm = v.dom.physmap;
  const ev = v.dom.evtchn;
  switch (cmd) {
    case EVTCHNOP.alloc_unbound: {
      const S = EVTCHN_ALLOC_UNBOUND;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => {
        const rc = ev.allocUnbound(dv.getUint16(o + S.remote_dom, true), dv.getUint16(o + S.dom, true));
        if (rc < 0) return rc;
        dv.setUint32(o + S.port, rc, true);
        return 0;
      });
    }
    case EVTCHNOP.bind_interdomain: {
      const S = EVTCHN_BIND_INTERDOMAIN;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => {
        const rc = ev.bindInterdomain(dv.getUint16(o + S.remote_dom, true), dv.getUint32(o + S.remote_port, true));
        if (rc < 0) return rc;
        dv.setUint32(o + S.local_port, rc, true);
        return 0;
      });
    }
    case EVTCHNOP.bind_virq: {
      const S = EVTCHN_BIND_VIRQ;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => {
        const rc = ev.bindVirq(dv.getUint32(o + S.virq, true), dv.getUint32(o + S.vcpu, true));
        if (rc < 0) return rc;
        dv.setUint32(o + S.port, rc, true);
        return 0;
      });
    }
    case EVTCHNOP.bind_ipi: {
      const S = EVTCHN_BIND_IPI;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => {
        const rc = ev.bindIpi(dv.getUint32(o + S.vcpu, true));
        if (rc < 0) return rc;
        dv.setUint32(o + S.port, rc, true);
        return 0;
      });
    }
    case EVTCHNOP.bind_vcpu: {
      const S = EVTCHN_BIND_VCPU;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => ev.bindVcpu(dv.getUint32(o + S.port, true), dv.getUint32(o + S.vcpu, true)));
    }
    case EVTCHNOP.status: {
      const S = EVTCHN_STATUS;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => {
        const st = ev.status(dv.getUint32(o + S.port, true), dv.getUint16(o + S.dom, true));
        if (typeof st === 'number') return st;
        dv.setUint32(o + S.status, st.status, true);
        dv.setUint32(o + S.vcpu, st.vcpu, true);
        dv.setUint32(o + S.u, 0, true);
        dv.setUint32(o + S.u_port, 0, true);
        if (st.virq !== undefined) dv.setUint32(o + S.u, st.virq, true);
        if (st.dom !== undefined) dv.setUint16(o + S.u, st.dom, true);
        if (st.port !== undefined) dv.setUint32(o + S.u_port, st.port, true);
        return 0;
      });
    }
    case EVTCHNOP.reset: {
      const S = EVTCHN_RESET;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => evtchnReset(v.dom, dv.getUint16(o + S.dom, true)));
    }
    default:
      return eventChannelFifoOp(v, cmd, arg);
  }
}

/** The FIFO sub-ops (evtchn_fifo.ts); link_bits is written back only on success, as Xen copies the struct back. */
function eventChannelFifoOp(v: Vcpu, cmd: number, arg: number): number {
  const pm = v.dom.physmap;
  switch (cmd) {
    case EVTCHNOP_FIFO.init_control: {
      const S = EVTCHN_INIT_CONTROL;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => {
        const gfn = Number(dv.getBigUint64(o + S.control_gfn, true));
        const rc = fifoInitControl(v.dom, dv.getUint32(o + S.vcpu, true), gfn, dv.getUint32(o + S.offset, true));
        if (rc < 0) return rc;
        dv.setUint8(o + S.link_bits, FIFO_LINK_BITS);
        return 0;
      });
    }
    case EVTCHNOP_FIFO.expand_array: {
      const S = EVTCHN_EXPAND_ARRAY;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => fifoExpandArray(v.dom, Number(dv.getBigUint64(o + S.array_gfn, true))));
    }
    case EVTCHNOP_FIFO.set_priority: {
      const S = EVTCHN_SET_PRIORITY;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => fifoSetPriority(v.dom, dv.getUint32(o + S.port, true), dv.getUint32(o + S.priority, true)));
    }
    default:
      return -XEN_E.ENOSYS;
  }
}

function hvmOp(v: Vcpu, cmd: number, arg: number): number {
  const pm = v.dom.physmap;
  switch (cmd) {
    case HVMOP.set_param:
    case HVMOP.get_param: {
      const S = XEN_HVM_PARAM;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => {
        const d = targetDomain(v, dv.getUint16(o + S.domid, true));
        if (typeof d === 'number') return d;
        const index = dv.getUint32(o + S.index, true);
        if (cmd === HVMOP.set_param) return d.setParam(index, dv.getBigUint64(o + S.value, true));
        const val = d.getParam(index);
        if (typeof val === 'number') return val;
        dv.setBigUint64(o + S.value, val, true);
        return 0;
      });
    }
    case HVMOP.set_evtchn_upcall_vector: {
      const S = XEN_HVM_EVTCHN_UPCALL_VECTOR;
      return pm.withStruct(arg, S.size, EFAULT, (dv, o) => {
        const vector = dv.getUint8(o + S.vector);
        const id = dv.getUint32(o + S.vcpu, true);
        if (vector < UPCALL_VECTOR_MIN) return -XEN_E.EINVAL;
        const t = v.dom.vcpus[id];
        if (!t) return -XEN_E.ENOENT;
        t.upcallVector = vector;
        // Xen asserts the upcall at once: one injection at registration.
        t.lapicSetIrq(vector);
        return 0;
      });
    }
    default:
      return -XEN_E.ENOSYS;
  }
}

function memoryOp(v: Vcpu, cmd: number, arg: number): number {
  if (cmd !== XENMEM_add_to_physmap) return -XEN_E.ENOSYS;
  const S = XEN_ADD_TO_PHYSMAP;
  return v.dom.physmap.withStruct(arg, S.size, EFAULT, (dv, o) => {
    const d = targetDomain(v, dv.getUint16(o + S.domid, true));
    if (typeof d === 'number') return d;
    const space = dv.getUint32(o + S.space, true);
    const idx = Number(dv.getBigUint64(o + S.idx, true));
    const gpfn = Number(dv.getBigUint64(o + S.gpfn, true));
    return addToPhysmap(d, space, idx, gpfn);
  });
}

/** XENMEM_add_to_physmap: make shared_info or a grant-table frame appear at gpfn (host API too). */
export function addToPhysmap(d: Domain, space: number, idx: number, gpfn: number): number {
  if (!d.physmap.validGpfn(gpfn)) return -XEN_E.EINVAL;
  if (space === XENMAPSPACE.shared_info) {
    if (idx !== 0) return -XEN_E.EINVAL;
    if (d.sharedInfoGpfn >= 0 && d.sharedInfoGpfn !== gpfn) d.physmap.restore(d.sharedInfoGpfn);
    d.physmap.remap(gpfn, d.shared.buf);
    d.sharedInfoGpfn = gpfn;
    return 0;
  }
  if (space === XENMAPSPACE.grant_table) {
    if (idx >= XENMAPIDX_grant_table_status) return -XEN_E.EINVAL; // status frames are v2 only
    if (idx >= MAX_GRANT_FRAMES) return -XEN_E.EINVAL;
    if (!d.gnttab.grow(Math.max(idx + 1, d.gnttab.nrFrames))) return -XEN_E.EINVAL;
    d.physmap.remap(gpfn, d.gnttab.frames[idx]!);
    return 0;
  }
  return -XEN_E.ENOSYS;
}

const decoder = new TextDecoder('utf-8');

function consoleIo(v: Vcpu, cmd: number, count: number, buf: number): number {
  if (cmd === CONSOLEIO_read) return 0; // nothing to read from Xen's console
  if (cmd !== CONSOLEIO_write) return -XEN_E.ENOSYS;
  if (count < 0 || count > 16 * PAGE_SIZE || !Number.isInteger(count)) return -XEN_E.EINVAL;
  const pm = v.dom.physmap;
  if (!pm.validRange(buf, count)) return EFAULT;
  const bytes = new Uint8Array(count);
  pm.read(buf, bytes);
  v.dom.writeConsole(decoder.decode(bytes));
  return 0;
}
