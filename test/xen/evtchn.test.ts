import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DOMID_SELF, ECS, EVTCHNSTAT, SHARED_INFO_U32, VIRQ, XEN_E } from '../../src/abi/xen.ts';
import { setup, guest } from './_helpers.ts';

const t = suite('evtchn');

t('port 0 is reserved; allocation takes the lowest free port', () => {
  const { hv } = setup();
  const d = guest(hv);
  assert.is(d.evtchn.state[0], ECS.RESERVED);
  assert.is(d.evtchn.close(0), -XEN_E.EINVAL);
  assert.is(d.evtchn.send(0), -XEN_E.EINVAL);
  assert.equal(d.evtchn.status(0), { status: EVTCHNSTAT.closed, vcpu: 0 });
  assert.is(d.evtchn.allocUnbound(0), 1);
  assert.is(d.evtchn.allocUnbound(0), 2);
  assert.is(d.evtchn.allocUnbound(0), 3);
  assert.is(d.evtchn.close(2), 0);
  assert.is(d.evtchn.close(2), -XEN_E.EINVAL, 'closing a free port');
  assert.is(d.evtchn.allocUnbound(0), 2, 'lowest free again');
  assert.is(d.evtchn.allocUnbound(0), 4);
});

t('4095 ports bind, the next is -ENOSPC, a closed one is reused', () => {
  const { hv } = setup();
  const d = guest(hv);
  for (let i = 1; i < 4096; i++) assert.is(d.evtchn.bindIpi(0), i);
  assert.is(d.evtchn.bindIpi(0), -XEN_E.ENOSPC);
  assert.is(d.evtchn.allocUnbound(0), -XEN_E.ENOSPC);
  assert.is(d.evtchn.bindVirq(VIRQ.TIMER, 0), -XEN_E.ENOSPC);
  assert.is(d.evtchn.close(1234), 0);
  assert.is(d.evtchn.bindIpi(0), 1234);
  assert.is(d.evtchn.send(4096), -XEN_E.EINVAL);
  assert.is(d.evtchn.unmask(4096), -XEN_E.EINVAL);
});

t('send coalesces: one pending bit, one selector bit, one upcall edge', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  v.upcallVector = 0x20;
  const p = d.evtchn.allocUnbound(0);
  const p0 = dom0.evtchn.bindInterdomain(d.id, p);
  assert.ok(p0 > 0);
  assert.not.ok(d.evtchn.isPending(p));
  assert.is(dom0.evtchn.send(p0), 0);
  assert.ok(d.evtchn.isPending(p));
  assert.ok(d.evtchn.selector(p));
  assert.ok(v.upcallPending);
  assert.ok(v.lapic.requested(0x20));
  v.lapic.irr.fill(0); // the CPU took it
  assert.is(dom0.evtchn.send(p0), 0);
  assert.is(dom0.evtchn.send(p0), 0);
  assert.not.ok(v.lapic.requested(0x20), 'coalesced: no new edge');
  // Guest clears pending but leaves upcall_pending set: still no new edge (0 -> 1 only).
  d.evtchn.clearPending(p);
  assert.is(dom0.evtchn.send(p0), 0);
  assert.not.ok(v.lapic.requested(0x20), 'upcall_pending already 1');
});

t('masked: the edge is lost; unmask re-raises only on masked -> unmasked', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  v.upcallVector = 0x20;
  const p = d.evtchn.allocUnbound(0);
  const p0 = dom0.evtchn.bindInterdomain(d.id, p);
  d.evtchn.mask(p);
  dom0.evtchn.send(p0);
  assert.ok(d.evtchn.isPending(p));
  assert.not.ok(d.evtchn.selector(p), 'no selector while masked');
  assert.not.ok(v.upcallPending, 'no upcall while masked');
  // Buggy guest unmask: clears the mask bit itself and never calls EVTCHNOP_unmask -> wedged [1/0/0].
  d.shared.u32[SHARED_INFO_U32.mask + (p >> 5)]! &= ~(1 << (p & 31));
  assert.is(d.evtchn.unmask(p), 0);
  assert.not.ok(d.evtchn.selector(p), 'unmask of an unmasked port does nothing');
  assert.not.ok(v.upcallPending);
  dom0.evtchn.send(p0);
  assert.not.ok(v.upcallPending, 'still wedged: the send coalesces');
  // Correct guest unmask: re-mask, then EVTCHNOP_unmask.
  d.evtchn.mask(p);
  assert.is(d.evtchn.unmask(p), 0);
  assert.ok(d.evtchn.selector(p));
  assert.ok(v.upcallPending);
  assert.ok(v.lapic.requested(0x20));
  assert.not.ok(d.evtchn.isMasked(p));
});

t('unmask with the selector already set raises nothing new', () => {
  const { hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  v.upcallVector = 0x20;
  const a = d.evtchn.bindIpi(0);
  const b = d.evtchn.bindIpi(0);
  d.evtchn.mask(b);
  d.evtchn.send(a);
  d.evtchn.send(b);
  v.lapic.irr.fill(0);
  d.shared.u8[0] = 0; // guest cleared upcall_pending but not the selector yet
  d.evtchn.unmask(b);
  assert.not.ok(v.upcallPending, 'selector bit was already set: no mark');
});

t('selector words beyond the first (ports >= 64, >= 2048)', () => {
  const { hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  v.upcallVector = 0x20;
  for (let i = 1; i <= 2100; i++) d.evtchn.bindIpi(0);
  const u32 = d.shared.u32;
  d.evtchn.send(70);
  assert.is(u32[SHARED_INFO_U32.pendingSel]!, 1 << 1, 'port 70 -> selector bit 1');
  assert.is(u32[SHARED_INFO_U32.pending + 2]!, 1 << 6, 'port 70 -> pending word 2 bit 6');
  d.evtchn.send(2100);
  assert.is(u32[SHARED_INFO_U32.pendingSel + 1]!, 1 << 0, 'port 2100 -> selector bit 32 (high half)');
  assert.ok(d.evtchn.selector(2100));
  assert.ok(d.evtchn.isPending(2100));
  d.evtchn.send(127);
  assert.is(u32[SHARED_INFO_U32.pendingSel]!, 1 << 1, 'port 127 shares word 1 with 70');
});

t('bind_interdomain: rules, both ends INTERDOMAIN, the local port is set pending', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const other = guest(hv, 'other');
  const p = d.evtchn.allocUnbound(0);
  assert.is(other.evtchn.bindInterdomain(d.id, p), -XEN_E.EINVAL, 'reserved for dom0, not for other');
  assert.is(dom0.evtchn.bindInterdomain(d.id, 99), -XEN_E.EINVAL, 'remote port not unbound');
  assert.is(dom0.evtchn.bindInterdomain(d.id, 5000), -XEN_E.EINVAL);
  assert.is(dom0.evtchn.bindInterdomain(77, p), -XEN_E.ESRCH);
  const before = dom0.evtchn.boundPorts().length;
  const lp = dom0.evtchn.bindInterdomain(d.id, p);
  assert.is(dom0.evtchn.boundPorts().length, before + 1);
  assert.ok(dom0.evtchn.isPending(lp), 'always pending after bind');
  assert.not.ok(d.evtchn.isPending(p), 'remote not notified');
  assert.equal(dom0.evtchn.status(lp), { status: EVTCHNSTAT.interdomain, vcpu: 0, dom: d.id, port: p });
  assert.equal(d.evtchn.status(p), { status: EVTCHNSTAT.interdomain, vcpu: 0, dom: 0, port: lp });
  assert.is(dom0.evtchn.bindInterdomain(d.id, p), -XEN_E.EINVAL, 'already bound');
  // Loopback within one domain.
  const u = d.evtchn.allocUnbound(DOMID_SELF);
  assert.is(d.evtchn.remoteDom[u], d.id);
  const l = d.evtchn.bindInterdomain(DOMID_SELF, u);
  assert.ok(l > 0);
  d.evtchn.clearPending(l);
  d.evtchn.send(l);
  assert.ok(d.evtchn.isPending(u));
});

t('send to UNBOUND is dropped silently; VIRQ ports cannot be sent to', () => {
  const { hv } = setup();
  const d = guest(hv);
  const p = d.evtchn.allocUnbound(0);
  assert.is(d.evtchn.send(p), 0);
  assert.not.ok(d.evtchn.isPending(p));
  assert.not.ok(d.vcpus[0]!.upcallPending);
  const vp = d.evtchn.bindVirq(VIRQ.TIMER, 0);
  assert.is(d.evtchn.send(vp), -XEN_E.EINVAL);
  assert.is(d.evtchn.send(3000), -XEN_E.EINVAL, 'free port');
});

t('close: the peer returns to UNBOUND for the closer, who can rebind', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const p = dom0.evtchn.allocUnbound(d.id);
  const lp = d.evtchn.bindInterdomain(0, p);
  d.evtchn.send(lp);
  assert.ok(dom0.evtchn.isPending(p));
  assert.is(d.evtchn.close(lp), 0);
  assert.is(d.evtchn.state[lp], ECS.FREE);
  assert.not.ok(d.evtchn.isPending(lp), 'close clears pending');
  assert.is(dom0.evtchn.state[p], ECS.UNBOUND);
  assert.is(dom0.evtchn.remoteDom[p], d.id);
  assert.is(dom0.evtchn.send(p), 0, 'now dropped');
  const lp2 = d.evtchn.bindInterdomain(0, p);
  assert.is(lp2, lp, 'lowest free');
  assert.is(dom0.evtchn.state[p], ECS.INTERDOMAIN);
  assert.is(dom0.evtchn.remotePort[p], lp2);
});

t('bind_virq and bind_ipi rules; status; bind_vcpu', () => {
  const { hv } = setup();
  const d = guest(hv, 'smp', 2);
  assert.is(d.evtchn.bindVirq(VIRQ.CONSOLE, 1), -XEN_E.EINVAL, 'global VIRQ on vCPU 1');
  assert.is(d.evtchn.bindVirq(VIRQ.TIMER, 2), -XEN_E.ENOENT);
  assert.is(d.evtchn.bindVirq(24, 0), -XEN_E.EINVAL);
  const t0 = d.evtchn.bindVirq(VIRQ.TIMER, 0);
  const t1 = d.evtchn.bindVirq(VIRQ.TIMER, 1);
  assert.equal([t0, t1], [1, 2]);
  assert.is(d.evtchn.bindVirq(VIRQ.TIMER, 1), -XEN_E.EEXIST);
  assert.equal(d.evtchn.status(t1), { status: EVTCHNSTAT.virq, vcpu: 1, virq: VIRQ.TIMER });
  assert.is(d.evtchn.bindVcpu(t1, 0), -XEN_E.EINVAL, 'per-vCPU VIRQ cannot move');
  const c = d.evtchn.bindVirq(VIRQ.CONSOLE, 0);
  assert.is(d.evtchn.bindVcpu(c, 1), 0, 'global VIRQ can move');
  assert.is(d.evtchn.notify[c], 1);
  assert.is(d.evtchn.bindIpi(5), -XEN_E.ENOENT);
  const ipi = d.evtchn.bindIpi(1);
  assert.is(d.evtchn.bindVcpu(ipi, 0), -XEN_E.EINVAL, 'IPI cannot move');
  assert.is(d.evtchn.bindVcpu(ipi, 9), -XEN_E.ENOENT);
  d.vcpus[1]!.upcallVector = 0x21;
  d.evtchn.send(ipi);
  assert.ok(d.vcpus[1]!.upcallPending, 'IPI notifies its vCPU');
  assert.not.ok(d.vcpus[0]!.upcallPending);
  assert.ok(d.vcpus[1]!.lapic.requested(0x21));
  d.evtchn.sendVirq(VIRQ.CONSOLE);
  assert.ok(d.evtchn.isPending(c));
  assert.is(d.evtchn.close(t1), 0);
  assert.is(d.evtchn.bindVirq(VIRQ.TIMER, 1), t1, 'virq slot freed on close');
});

t('privilege: unprivileged domains act only on themselves', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const e = guest(hv, 'e');
  assert.is(d.evtchn.allocUnbound(0, e.id), -XEN_E.EPERM);
  assert.is(d.evtchn.status(1, e.id), -XEN_E.EPERM);
  const p = dom0.evtchn.allocUnbound(0, e.id);
  assert.is(p, 1, 'the toolstack allocates in the guest');
  assert.is(e.evtchn.state[1], ECS.UNBOUND);
  assert.equal(dom0.evtchn.status(1, e.id), { status: EVTCHNSTAT.unbound, vcpu: 0, dom: 0 });
  assert.is(dom0.evtchn.allocUnbound(0, 99), -XEN_E.ESRCH);
});

t.run();
