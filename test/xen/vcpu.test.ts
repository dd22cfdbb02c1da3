import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DOMID_SELF, HVM_PARAM, HVMOP, HYPERVISOR, SCHEDOP, VCPU_INFO, VIRQ, XEN_E, XEN_HVM_EVTCHN_UPCALL_VECTOR } from '../../src/abi/xen.ts';
import { NS } from '../../src/sim/index.ts';
import { STORM_LIMIT, TIMER_FALLBACK_NS, VcpuLivelock } from '../../src/xen/index.ts';
import { args, guest, running, setup } from './_helpers.ts';

const t = suite('vcpu');

t('per-vCPU vector: injected once on registration, then once per upcall_pending edge (must EOI)', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  const e = running(v);
  const a = args(d);
  a.setUint32(XEN_HVM_EVTCHN_UPCALL_VECTOR.vcpu, 0, true);
  a.setUint8(XEN_HVM_EVTCHN_UPCALL_VECTOR.vector, 0x0f);
  assert.is(v.hypercall(HYPERVISOR.hvm_op, HVMOP.set_evtchn_upcall_vector, 0), -XEN_E.EINVAL, 'vector < 0x10');
  a.setUint32(XEN_HVM_EVTCHN_UPCALL_VECTOR.vcpu, 3, true);
  a.setUint8(XEN_HVM_EVTCHN_UPCALL_VECTOR.vector, 0x20);
  assert.is(v.hypercall(HYPERVISOR.hvm_op, HVMOP.set_evtchn_upcall_vector, 0), -XEN_E.ENOENT);
  a.setUint32(XEN_HVM_EVTCHN_UPCALL_VECTOR.vcpu, 0, true);
  assert.is(v.hypercall(HYPERVISOR.hvm_op, HVMOP.set_evtchn_upcall_vector, 0), 0);
  assert.equal(e.vectors, [0x20], 'one injection at registration, at the hypercall return');
  const p = dom0.evtchn.allocUnbound(d.id);
  const lp = d.evtchn.bindInterdomain(0, p);
  assert.equal(e.vectors, [0x20], 'host API calls are not instruction boundaries of this vCPU');
  v.point('x');
  assert.equal(e.vectors, [0x20, 0x20], 'bind_interdomain set the local port pending: an edge');
  dom0.evtchn.send(p);
  dom0.evtchn.send(p);
  v.point('x');
  assert.equal(e.vectors.length, 2, 'upcall_pending still 1: no new edge, no level re-injection');
  d.shared.u8[0] = 0;
  d.evtchn.clearPending(lp);
  d.shared.u32[2] = 0;
  dom0.evtchn.send(p);
  v.point('y');
  assert.equal(e.vectors.length, 3);
  // Without EOI the next edge of the same vector waits in IRR (same priority class in service).
  e.eoi = false;
  d.shared.u8[0] = 0; d.evtchn.clearPending(lp); d.shared.u32[2] = 0;
  dom0.evtchn.send(p);
  v.point('z');
  assert.is(e.vectors.length, 4);
  d.shared.u8[0] = 0; d.evtchn.clearPending(lp); d.shared.u32[2] = 0;
  dom0.evtchn.send(p);
  v.point('w');
  assert.is(e.vectors.length, 4, 'blocked by ISR');
  assert.ok(v.lapic.requested(0x20));
  v.eoi();
  assert.is(e.vectors.length, 5, 'delivered at the EOI return');
});

t('global callback vector is level: re-injected while upcall_pending; a no-op handler storms', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  const e = running(v);
  assert.is(d.setParam(HVM_PARAM.CALLBACK_IRQ, (2n << 56n) | 0x30n), 0);
  assert.is(d.callbackVector, 0x30);
  const p = dom0.evtchn.allocUnbound(d.id);
  // A handler that demuxes (clears upcall_pending): one injection.
  e.onInterrupt = () => { d.shared.u8[0] = 0; };
  d.evtchn.bindInterdomain(0, p);
  v.point('entry');
  assert.equal(e.vectors, [0x30]);
  v.point('again');
  assert.equal(e.vectors, [0x30], 'cleared: no re-injection');
  // IF=0 blocks it.
  e.onInterrupt = undefined;
  d.shared.u32[2] = 0;
  d.evtchn.clearPending(1);
  v.cli();
  dom0.evtchn.send(p);
  v.point('masked');
  assert.is(e.vectors.length, 1);
  // A no-op handler with IF=1: re-injected at every VM entry -> storm, cut at
  // STORM_LIMIT; the vCPU is livelocked: the door unwinds the guest and it
  // never runs again.
  v.sti();
  const err = (() => {
    try {
      v.point('entry');
    } catch (x) {
      return x;
    }
    return undefined;
  })();
  assert.instance(err, VcpuLivelock);
  assert.is(e.vectors.length, 1 + STORM_LIMIT);
  assert.is(v.storms, 1);
  assert.is(v.state, 'halted');
  assert.ok(v.livelock);
  v.wake('test');
  assert.is(v.state, 'halted', 'a livelocked vCPU is not woken');
  assert.throws(() => v.point('again'), (x: unknown) => x instanceof VcpuLivelock);
});

t('no upcall route: pending events reach nothing', () => {
  const { hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  const e = running(v);
  d.evtchn.send(d.evtchn.bindIpi(0));
  v.point('x');
  assert.ok(v.upcallPending);
  assert.equal(e.vectors, []);
});

t('hlt with IF=0 takes the vCPU down for good', () => {
  const { sim, hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  v.upcallVector = 0x20;
  running(v, false);
  assert.is(v.hlt(), true);
  assert.is(v.state, 'down');
  d.evtchn.send(d.evtchn.bindIpi(0));
  assert.is(sim.runnable, 0, 'an event does not wake it');
  assert.is(v.state, 'down');
});

t('STI shadow: cli; event; sti -> not yet; hlt sees IRR and does not sleep', () => {
  const { hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  v.upcallVector = 0x20;
  const e = running(v);
  const ipi = d.evtchn.bindIpi(0);
  v.cli();
  d.evtchn.send(ipi);
  v.point('check upcall_pending');
  assert.equal(e.vectors, [], 'IF=0');
  v.sti();
  assert.equal(e.vectors, [], 'STI shadow covers the next instruction');
  assert.is(v.hlt(), false, 'hlt delivers instead of sleeping');
  assert.equal(e.vectors, [0x20]);
  assert.is(v.state, 'running');
  // sti; <other instruction>: delivered at that instruction's boundary.
  v.cli();
  d.shared.u8[0] = 0; d.shared.u32[2] = 0; d.evtchn.clearPending(ipi);
  d.evtchn.send(ipi);
  v.sti();
  assert.is(e.vectors.length, 1);
  v.point('next');
  assert.is(e.vectors.length, 2);
  // sti when IF is already 1 has no shadow.
  d.shared.u8[0] = 0; d.shared.u32[2] = 0; d.evtchn.clearPending(ipi);
  d.evtchn.send(ipi);
  v.sti();
  assert.is(e.vectors.length, 3);
});

t('race §4.4: check, then hlt with IF=1 loses the interrupt; the oracle names it', () => {
  const { sim, hv } = setup();
  const d = guest(hv, 'mirage', 1, 5);
  const v = d.vcpus[0]!;
  v.upcallVector = 0x20;
  const e = running(v);
  const ipi = d.evtchn.bindIpi(0);
  // demux found nothing ... an event arrives at the next instruction boundary:
  d.evtchn.send(ipi);
  v.point('after demux');
  assert.equal(e.vectors, [0x20], 'taken at once (IF=1) and EOI-ed');
  assert.is(v.hlt(), true, 'IRR empty: sleeps');
  assert.is(v.state, 'halted');
  assert.ok(v.upcallPending);
  const r = sim.run();
  assert.is(r.reason, 'hang');
  if (r.reason === 'hang') {
    assert.match(r.hang.summary, /domain 5: vCPU 0 halted with upcall_pending=1 and port 1 \[1\/0\/1\]/);
    assert.match(r.hang.details, /\(XEN\)        1 \[1\/0\/1\]: s=6 n=0 x=0/);
  }
});

t('a halted vCPU is resumed by the event: interrupt first, then resume()', () => {
  const { sim, hv, dom0 } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  const e = running(v);
  v.upcallVector = 0x20;
  const order: string[] = [];
  e.onInterrupt = () => order.push('interrupt');
  e.onResume = () => { order.push('resume'); d.shared.u8[0] = 0; v.hlt(); };
  assert.is(v.hlt(), true);
  const p = dom0.evtchn.allocUnbound(d.id);
  d.evtchn.bindInterdomain(0, p);
  assert.is(v.state, 'runnable');
  sim.run();
  assert.equal(order, ['interrupt', 'resume']);
  assert.is(v.state, 'halted');
  // Paused domains do not run.
  hv.pause(d.id);
  d.shared.u32[2] = 0; d.evtchn.clearPending(1);
  dom0.evtchn.send(p);
  sim.run();
  assert.equal(order.length, 2);
  hv.unpause(d.id);
  sim.run();
  assert.equal(order, ['interrupt', 'resume', 'interrupt', 'resume']);
});

t('set_timer_op: absolute ns, 0 cancels, past or >= 2^50 ahead -> now + 100 ms; VIRQ_TIMER wakes', () => {
  const { sim, hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  v.upcallVector = 0x20;
  const e = running(v);
  const tp = d.evtchn.bindVirq(VIRQ.TIMER, 0);
  e.onResume = () => { d.shared.u8[0] = 0; d.evtchn.clearPending(tp); d.shared.u32[2] = 0; v.hlt(); };
  assert.is(v.hypercall(HYPERVISOR.set_timer_op, 5 * NS.ms), 0);
  assert.is(v.timerDeadline, 5 * NS.ms);
  assert.is(v.hlt(), true);
  sim.run();
  assert.is(sim.now, 5 * NS.ms);
  assert.is(e.resumes, 1);
  assert.ok(e.vectors.length >= 1);
  // vcpu_info.time follows sim time.
  const tb = VCPU_INFO.time;
  assert.is(Number(d.shared.dv.getBigUint64(tb + 16, true)), 5 * NS.ms, 'system_time');
  assert.is(d.shared.dv.getUint32(tb, true) % 2, 0, 'version even');
  // Past deadline: now + 100 ms.
  v.state = 'running';
  v.hypercall(HYPERVISOR.set_timer_op, 1);
  assert.is(v.timerDeadline, sim.now + TIMER_FALLBACK_NS);
  v.hypercall(HYPERVISOR.set_timer_op, sim.now + 2 ** 50);
  assert.is(v.timerDeadline, sim.now + TIMER_FALLBACK_NS, '>= 2^50 ahead');
  v.hypercall(HYPERVISOR.set_timer_op, sim.now + 2 ** 50 - 1);
  assert.is(v.timerDeadline, sim.now + 2 ** 50 - 1, 'just below 2^50 is honoured');
  v.hypercall(HYPERVISOR.set_timer_op, -5);
  assert.is(v.timerDeadline, sim.now + TIMER_FALLBACK_NS, 'negative');
  v.hypercall(HYPERVISOR.set_timer_op, 0);
  assert.is(v.timerDeadline, -1, 'cancelled');
  assert.is(sim.clock.pending, 0);
  assert.is(v.hypercall(HYPERVISOR.set_timer_op, 1.5), -XEN_E.EINVAL);
});

t('SCHEDOP_block: returns 1 when blocked, 0 when a vector is pending; shutdown stops the vCPUs', () => {
  const { sim, hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  v.upcallVector = 0x20;
  const e = running(v, false);
  const ipi = d.evtchn.bindIpi(0);
  d.evtchn.send(ipi);
  v.IF = true;
  v.lapic.irr.fill(0);
  assert.is(v.hypercall(HYPERVISOR.sched_op, SCHEDOP.block, 0), 1, 'IRR empty -> blocks even with upcall_pending');
  assert.is(v.state, 'halted');
  v.state = 'running';
  v.cli();
  v.lapicSetIrq(0x20);
  v.IF = true;
  v.shadow = true;
  assert.is(v.hypercall(HYPERVISOR.sched_op, SCHEDOP.block, 0), 0);
  assert.ok(e.vectors.length > 0);
  args(d).setUint32(0, 0, true);
  assert.is(v.hypercall(HYPERVISOR.sched_op, SCHEDOP.yield, 0), 0);
  assert.is(v.hypercall(HYPERVISOR.sched_op, SCHEDOP.shutdown, 0), 0);
  assert.is(d.shutdownReason, 0);
  assert.is(v.state, 'down');
  assert.is(d.stateFlags(), '---s--');
  assert.is(sim.run().reason, 'idle');
});

t('SCHEDOP_poll: blocks until a polled port is pending or the timeout; listed in Polling vCPUs', () => {
  const { sim, hv } = setup();
  const d = guest(hv, 'p', 2);
  const v = d.vcpus[1]!;
  const e = running(v);
  e.onResume = () => {};
  const ipi = d.evtchn.bindIpi(0);
  const a = args(d);
  a.setBigUint64(0, 64n, true); // ports at gpa 64
  a.setUint32(8, 1, true);
  a.setBigUint64(16, 0n, true);
  a.setUint32(64, ipi, true);
  assert.is(v.hypercall(HYPERVISOR.sched_op, SCHEDOP.poll, 0), 1);
  assert.is(d.pollMask, 2);
  assert.match(hv.debugKey('e'), /Polling vCPUs: \{1\}/);
  d.evtchn.send(ipi);
  assert.is(d.pollMask, 0);
  sim.run();
  assert.is(e.resumes, 1);
  v.state = 'running';
  assert.is(v.hypercall(HYPERVISOR.sched_op, SCHEDOP.poll, 0), 0, 'already pending');
  a.setUint32(8, 129, true);
  assert.is(v.hypercall(HYPERVISOR.sched_op, SCHEDOP.poll, 0), -XEN_E.EINVAL);
  a.setUint32(8, 1, true);
  a.setUint32(64, 9999, true);
  assert.is(v.hypercall(HYPERVISOR.sched_op, SCHEDOP.poll, 0), -XEN_E.EINVAL);
  a.setUint32(64, ipi, true);
  d.evtchn.clearPending(ipi);
  a.setBigUint64(16, BigInt(sim.now + 7 * NS.ms), true);
  assert.is(v.hypercall(HYPERVISOR.sched_op, SCHEDOP.poll, 0), 1);
  const t0 = sim.now;
  sim.run();
  assert.is(sim.now - t0, 7 * NS.ms, 'timeout');
  assert.is(e.resumes, 2);
  void DOMID_SELF;
});

t.run();
