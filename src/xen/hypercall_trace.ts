// How a hypercall reads in the Chrome/Perfetto trace: the sub-op's own name
// (EVTCHNOP_send, HVMOP_set_param, SCHEDOP_block, …, as Xen's public headers
// spell them) and its decoded arguments (port=5, param=HVM_PARAM_CALLBACK_IRQ,
// timeout=…), not `event_channel_op {"cmd": 4}`. The arguments are read back
// from guest memory after the call, so OUT fields (the port alloc_unbound
// made) show too; an unreadable argument is simply left out. Runs only when
// tracing is on.
import {
  EVTCHN_ALLOC_UNBOUND, EVTCHN_BIND_INTERDOMAIN, EVTCHN_BIND_IPI, EVTCHN_BIND_VCPU, EVTCHN_BIND_VIRQ, EVTCHN_PORT_ARG,
  EVTCHN_STATUS, EVTCHNOP, GNTTABOP, HVM_PARAM, HVMOP, HYPERVISOR, SCHED_POLL, SCHED_SHUTDOWN, SCHEDOP, SHUTDOWN_NAMES,
  XEN_ADD_TO_PHYSMAP, XEN_HVM_EVTCHN_UPCALL_VECTOR, XEN_HVM_PARAM, XENMAPSPACE, XENMEM_add_to_physmap,
} from '../abi/xen.ts';
import { EVTCHN_INIT_CONTROL, EVTCHN_SET_PRIORITY, EVTCHNOP_FIFO } from '../abi/evtchn_fifo.ts';
import type { TraceArgs } from '../sim/index.ts';
import type { Physmap } from './physmap.ts';

const invert = (o: Record<string, number>, prefix: string): Record<number, string> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [v, `${prefix}${k}`]));

const HYPERCALL_NAMES = invert(HYPERVISOR, '');
const EVTCHNOP_NAMES = invert({ ...EVTCHNOP, ...EVTCHNOP_FIFO }, 'EVTCHNOP_');
const SCHEDOP_NAMES = invert(SCHEDOP, 'SCHEDOP_');
const HVMOP_NAMES = invert(HVMOP, 'HVMOP_');
const HVM_PARAM_NAMES = invert(HVM_PARAM, 'HVM_PARAM_');
const GNTTABOP_NAMES = invert(GNTTABOP, 'GNTTABOP_');
const XENMAPSPACE_NAMES = invert(XENMAPSPACE, 'XENMAPSPACE_');
const CONSOLEIO_NAMES: Record<number, string> = { 0: 'CONSOLEIO_write', 1: 'CONSOLEIO_read' };

/** A copy of guest bytes [gpa, gpa+len), or undefined if the range is not guest memory. */
function peek(pm: Physmap, gpa: number, len: number): DataView | undefined {
  if (!pm.validRange(gpa, len)) return undefined;
  const b = new Uint8Array(len);
  pm.read(gpa, b);
  return new DataView(b.buffer);
}

export interface HypercallLabel {
  name: string;
  args: TraceArgs;
}

/** The trace name and arguments of hypercall `op` (registers x1..x3) that returned `rc`. */
export function hypercallLabel(pm: Physmap, op: number, x1: number, x2: number, x3: number, rc: number): HypercallLabel {
  const hypercall = HYPERCALL_NAMES[op] ?? `hypercall ${op}`;
  const args: TraceArgs = { hypercall, rc };
  const sub = (names: Record<number, string>, cmd: number) => names[cmd] ?? `${hypercall} cmd ${cmd}`;
  switch (op) {
    case HYPERVISOR.event_channel_op:
      evtchnArgs(pm, x1, x2, args);
      return { name: sub(EVTCHNOP_NAMES, x1), args };
    case HYPERVISOR.sched_op:
      if (x1 === SCHEDOP.shutdown || x1 === SCHEDOP.shutdown_code) {
        const dv = peek(pm, x2, SCHED_SHUTDOWN.size);
        if (dv) args['reason'] = SHUTDOWN_NAMES[dv.getUint32(SCHED_SHUTDOWN.reason, true)] ?? dv.getUint32(SCHED_SHUTDOWN.reason, true);
      } else if (x1 === SCHEDOP.poll) {
        const dv = peek(pm, x2, SCHED_POLL.size);
        if (dv) {
          args['nr_ports'] = dv.getUint32(SCHED_POLL.nr_ports, true);
          args['timeout'] = Number(dv.getBigUint64(SCHED_POLL.timeout, true));
        }
      }
      return { name: sub(SCHEDOP_NAMES, x1), args };
    case HYPERVISOR.set_timer_op:
      // One argument, the absolute deadline in ns of system time (0 cancels).
      return { name: hypercall, args: { hypercall, timeout: x1, rc } };
    case HYPERVISOR.hvm_op:
      if (x1 === HVMOP.set_param || x1 === HVMOP.get_param) {
        const dv = peek(pm, x2, XEN_HVM_PARAM.size);
        if (dv) {
          const index = dv.getUint32(XEN_HVM_PARAM.index, true);
          args['domid'] = dv.getUint16(XEN_HVM_PARAM.domid, true);
          args['param'] = HVM_PARAM_NAMES[index] ?? index;
          args['value'] = `0x${dv.getBigUint64(XEN_HVM_PARAM.value, true).toString(16)}`;
        }
      } else if (x1 === HVMOP.set_evtchn_upcall_vector) {
        const dv = peek(pm, x2, XEN_HVM_EVTCHN_UPCALL_VECTOR.size);
        if (dv) {
          args['vcpu'] = dv.getUint32(XEN_HVM_EVTCHN_UPCALL_VECTOR.vcpu, true);
          args['vector'] = dv.getUint8(XEN_HVM_EVTCHN_UPCALL_VECTOR.vector);
        }
      }
      return { name: sub(HVMOP_NAMES, x1), args };
    case HYPERVISOR.memory_op:
      if (x1 === XENMEM_add_to_physmap) {
        const dv = peek(pm, x2, XEN_ADD_TO_PHYSMAP.size);
        if (dv) {
          const space = dv.getUint32(XEN_ADD_TO_PHYSMAP.space, true);
          args['space'] = XENMAPSPACE_NAMES[space] ?? space;
          args['idx'] = Number(dv.getBigUint64(XEN_ADD_TO_PHYSMAP.idx, true));
          args['gpfn'] = `0x${dv.getBigUint64(XEN_ADD_TO_PHYSMAP.gpfn, true).toString(16)}`;
        }
        return { name: 'XENMEM_add_to_physmap', args };
      }
      return { name: `${hypercall} cmd ${x1}`, args };
    case HYPERVISOR.grant_table_op:
      args['count'] = x3;
      return { name: sub(GNTTABOP_NAMES, x1), args };
    case HYPERVISOR.console_io:
      args['count'] = x2;
      return { name: sub(CONSOLEIO_NAMES, x1), args };
    case HYPERVISOR.xen_version:
      return { name: x1 === 0 ? 'XENVER_version' : `${hypercall} cmd ${x1}`, args };
    default:
      args['cmd'] = x1;
      return { name: hypercall, args };
  }
}

/** A field of an event-channel op's struct as the trace shows it: offset, width in bytes, key. */
type EvtchnField = readonly [off: number, bytes: 2 | 4, key: string];

/** For each EVTCHNOP_* with arguments worth showing: its struct's size and the fields, in the order they are shown. */
const EVTCHN_FIELDS = new Map<number, { size: number; fields: readonly EvtchnField[] }>([
  ...[EVTCHNOP.send, EVTCHNOP.unmask, EVTCHNOP.close].map((cmd) => [cmd, { size: EVTCHN_PORT_ARG.size, fields: [[EVTCHN_PORT_ARG.port, 4, 'port']] }] as const),
  [EVTCHNOP.alloc_unbound, {
    size: EVTCHN_ALLOC_UNBOUND.size,
    fields: [[EVTCHN_ALLOC_UNBOUND.remote_dom, 2, 'remote_dom'], [EVTCHN_ALLOC_UNBOUND.port, 4, 'port']],
  }],
  [EVTCHNOP.bind_interdomain, {
    size: EVTCHN_BIND_INTERDOMAIN.size,
    fields: [
      [EVTCHN_BIND_INTERDOMAIN.remote_dom, 2, 'remote_dom'], [EVTCHN_BIND_INTERDOMAIN.remote_port, 4, 'remote_port'],
      [EVTCHN_BIND_INTERDOMAIN.local_port, 4, 'port'],
    ],
  }],
  [EVTCHNOP.bind_virq, {
    size: EVTCHN_BIND_VIRQ.size,
    fields: [[EVTCHN_BIND_VIRQ.virq, 4, 'virq'], [EVTCHN_BIND_VIRQ.vcpu, 4, 'vcpu'], [EVTCHN_BIND_VIRQ.port, 4, 'port']],
  }],
  [EVTCHNOP.bind_ipi, { size: EVTCHN_BIND_IPI.size, fields: [[EVTCHN_BIND_IPI.vcpu, 4, 'vcpu'], [EVTCHN_BIND_IPI.port, 4, 'port']] }],
  [EVTCHNOP.bind_vcpu, { size: EVTCHN_BIND_VCPU.size, fields: [[EVTCHN_BIND_VCPU.port, 4, 'port'], [EVTCHN_BIND_VCPU.vcpu, 4, 'vcpu']] }],
  [EVTCHNOP.status, { size: EVTCHN_STATUS.size, fields: [[EVTCHN_STATUS.port, 4, 'port']] }],
  [EVTCHNOP_FIFO.init_control, { size: EVTCHN_INIT_CONTROL.size, fields: [[EVTCHN_INIT_CONTROL.vcpu, 4, 'vcpu']] }],
  [EVTCHNOP_FIFO.set_priority, {
    size: EVTCHN_SET_PRIORITY.size,
    fields: [[EVTCHN_SET_PRIORITY.port, 4, 'port'], [EVTCHN_SET_PRIORITY.priority, 4, 'priority']],
  }],
]);

function evtchnArgs(pm: Physmap, cmd: number, arg: number, args: TraceArgs): void {
  const op = EVTCHN_FIELDS.get(cmd);
  if (!op) return;
  const dv = peek(pm, arg, op.size);
  if (!dv) return;
  for (const [off, bytes, key] of op.fields) args[key] = bytes === 2 ? dv.getUint16(off, true) : dv.getUint32(off, true);
}
