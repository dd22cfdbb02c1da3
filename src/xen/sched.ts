// sched_op (public/sched.h): yield, block, shutdown, poll, remote_shutdown,
// shutdown_code.
//
// Blocking hypercalls and synchronous guests. Guest code is synchronous JS:
// a hypercall cannot suspend it. So SCHEDOP_block and SCHEDOP_poll behave
// like hlt() does in abi/doors.ts: they return 0 if they did not block (an
// event is already there), and **1** if the vCPU is now blocked, in which
// case the guest must return from resume() and is resumed on wakeup. This
// is xenode's one documented departure from Xen's return values.
//
// SCHEDOP_block follows Xen's order: block, *then* check for events ("avoids
// wakeup waiting race"). For HVM/PVH the check is hvm_vcpu_has_pending_irq
// gated by IF: with the per-vCPU vector only the LAPIC IRR counts, not
// upcall_pending.
import {
  SCHED_POLL, SCHED_POLL_MAX_PORTS, SCHED_REMOTE_SHUTDOWN, SCHED_SHUTDOWN, SCHEDOP, VCPU_INFO, XEN_E,
} from '../abi/xen.ts';
import type { Vcpu } from './vcpu.ts';

export function schedOp(v: Vcpu, cmd: number, arg: number): number {
  const dom = v.dom;
  const pm = dom.physmap;
  const EFAULT = -XEN_E.EFAULT;
  switch (cmd) {
    case SCHEDOP.yield:
      return 0; // the choice point at the door return is the yield
    case SCHEDOP.block: {
      dom.shared.u8[v.vcpuId * VCPU_INFO.size + VCPU_INFO.evtchn_upcall_mask] = 0;
      if (v.IF && v.hasPendingIrq()) return 0;
      v.halt('SCHEDOP_block');
      return 1;
    }
    case SCHEDOP.shutdown:
    case SCHEDOP.shutdown_code:
      return pm.withStruct(arg, SCHED_SHUTDOWN.size, EFAULT, (dv, o) => {
        const reason = dv.getUint32(o + SCHED_SHUTDOWN.reason, true);
        if (reason > 255) return -XEN_E.EINVAL;
        if (cmd === SCHEDOP.shutdown_code) dom.shutdownCode = reason;
        else dom.shutdown(reason);
        return 0;
      });
    case SCHEDOP.remote_shutdown:
      return pm.withStruct(arg, SCHED_REMOTE_SHUTDOWN.size, EFAULT, (dv, o) => {
        if (!dom.privileged) return -XEN_E.EPERM;
        const t = dom.hv.domain(dv.getUint16(o + SCHED_REMOTE_SHUTDOWN.domain_id, true));
        if (!t) return -XEN_E.ESRCH;
        t.shutdown(dv.getUint32(o + SCHED_REMOTE_SHUTDOWN.reason, true));
        return 0;
      });
    case SCHEDOP.poll:
      return pm.withStruct(arg, SCHED_POLL.size, EFAULT, (dv, o) => {
        const ptr = Number(dv.getBigUint64(o + SCHED_POLL.ports, true));
        const n = dv.getUint32(o + SCHED_POLL.nr_ports, true);
        const timeout = Number(dv.getBigUint64(o + SCHED_POLL.timeout, true));
        return poll(v, ptr, n, timeout);
      });
    default:
      return -XEN_E.ENOSYS;
  }
}

/** Host-side API as well: block `v` until one of `ports` is pending or `timeout` (absolute ns, 0 = none). */
export function pollPorts(v: Vcpu, ports: number[], timeout: number): number {
  const dom = v.dom;
  const max = dom.evtchn.maxEvtchns(); // do_poll: port >= max_evtchns(d) -> -EINVAL (FIFO: 131072)
  for (const p of ports) if (p >>> 0 !== p || p >= max) return -XEN_E.EINVAL;
  for (const p of ports) if (dom.evtchn.isPending(p)) return 0;
  const clock = dom.hv.sim.clock;
  if (timeout !== 0 && timeout <= clock.now) return 0;
  v.pollPorts = ports;
  dom.pollMask |= 1 << v.vcpuId;
  v.halt('SCHEDOP_poll');
  if (timeout !== 0) {
    v.pollTimer = clock.at(timeout, () => { if (v.pollPorts === ports) v.wake('poll timeout'); }, `d${dom.id}v${v.vcpuId} poll timeout`);
  }
  return 1;
}

function poll(v: Vcpu, ptr: number, n: number, timeout: number): number {
  const pm = v.dom.physmap;
  if (n > SCHED_POLL_MAX_PORTS) return -XEN_E.EINVAL;
  if (!pm.validRange(ptr, 4 * n)) return -XEN_E.EFAULT;
  const raw = new Uint8Array(4 * n);
  pm.read(ptr, raw);
  const dv = new DataView(raw.buffer);
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(dv.getUint32(4 * i, true));
  return pollPorts(v, ports, timeout);
}
