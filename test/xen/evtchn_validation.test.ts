// Event-channel ops on bad ports and domids answer exactly as Xen 4.17.7's
// xen/common/event_channel.c does, including which check comes first:
// port 0 (ECS_RESERVED), a free port inside the allocated bucket (valid, ECS_FREE),
// a port beyond the allocated buckets (!port_is_valid), a domain that does
// not exist (rcu_lock_domain_by_any_id: -ESRCH, before XSM's -EPERM), another
// guest's domain (the dummy XSM's XSM_TARGET: -EPERM).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ECS, EVTCHNSTAT, XEN_E } from '../../src/abi/xen.ts';
import { guest, setup } from './_helpers.ts';

const t = suite('evtchn: validation as event_channel.c');

t('bad ports and domids, one row per (op, argument): the errno and nothing changed', () => {
  const { hv } = setup();
  const d = guest(hv, 'd', 2);
  const e = guest(hv, 'e');
  const unbound = d.evtchn.allocUnbound(0);
  assert.is(unbound, 1);
  const FREE = 5; // inside bucket 0 (64 ports): valid, ECS_FREE
  const BEYOND = 64; // no bucket: !port_is_valid
  const NODOM = 999;
  const rows: [string, () => unknown, unknown][] = [
    // evtchn_send: !lchn -> -EINVAL; ECS_RESERVED/ECS_FREE -> default: -EINVAL; ECS_UNBOUND -> dropped, 0.
    ['send port 0', () => d.evtchn.send(0), -XEN_E.EINVAL],
    ['send a free port', () => d.evtchn.send(FREE), -XEN_E.EINVAL],
    ['send beyond the buckets', () => d.evtchn.send(BEYOND), -XEN_E.EINVAL],
    ['send an unbound port', () => d.evtchn.send(unbound), 0],
    // evtchn_close: !port_is_valid -> -EINVAL; ECS_FREE/ECS_RESERVED -> -EINVAL.
    ['close port 0', () => d.evtchn.close(0), -XEN_E.EINVAL],
    ['close a free port', () => d.evtchn.close(FREE), -XEN_E.EINVAL],
    ['close beyond the buckets', () => d.evtchn.close(BEYOND), -XEN_E.EINVAL],
    // evtchn_status: ESRCH, then EINVAL (port), then EACCES (Xen's), then XSM's EPERM.
    ['status port 0', () => d.evtchn.status(0), { status: EVTCHNSTAT.closed, vcpu: 0 }],
    ['status a free port', () => d.evtchn.status(FREE), { status: EVTCHNSTAT.closed, vcpu: 0 }],
    ['status beyond the buckets', () => d.evtchn.status(BEYOND), -XEN_E.EINVAL],
    ['status in a domain that does not exist', () => d.evtchn.status(1, NODOM), -XEN_E.ESRCH],
    ["status beyond another guest's buckets", () => d.evtchn.status(BEYOND, e.id), -XEN_E.EINVAL],
    ["status of another guest's valid port", () => d.evtchn.status(1, e.id), -XEN_E.EPERM],
    // evtchn_alloc_unbound: ESRCH, then a free port, then XSM's EPERM.
    ['alloc_unbound in a domain that does not exist', () => d.evtchn.allocUnbound(0, NODOM), -XEN_E.ESRCH],
    ['alloc_unbound in another guest', () => d.evtchn.allocUnbound(0, e.id), -XEN_E.EPERM],
    // evtchn_bind_interdomain: ESRCH, then !port_is_valid or not unbound for us -> EINVAL.
    ['bind_interdomain to a domain that does not exist', () => e.evtchn.bindInterdomain(NODOM, 1), -XEN_E.ESRCH],
    ['bind_interdomain to port 0', () => e.evtchn.bindInterdomain(d.id, 0), -XEN_E.EINVAL],
    ['bind_interdomain to a free port', () => e.evtchn.bindInterdomain(d.id, FREE), -XEN_E.EINVAL],
    ['bind_interdomain beyond the buckets', () => e.evtchn.bindInterdomain(d.id, BEYOND), -XEN_E.EINVAL],
    // evtchn_bind_vcpu: the vCPU (ENOENT) before the port (EINVAL); a free port -> EINVAL.
    ['bind_vcpu beyond the buckets to a vCPU that does not exist', () => d.evtchn.bindVcpu(BEYOND, 7), -XEN_E.ENOENT],
    ['bind_vcpu beyond the buckets', () => d.evtchn.bindVcpu(BEYOND, 1), -XEN_E.EINVAL],
    ['bind_vcpu port 0', () => d.evtchn.bindVcpu(0, 1), -XEN_E.EINVAL],
    ['bind_vcpu a free port', () => d.evtchn.bindVcpu(FREE, 1), -XEN_E.EINVAL],
    // evtchn_unmask: !evtchn -> -EINVAL; any valid port (free or reserved) -> 0.
    ['unmask beyond the buckets', () => d.evtchn.unmask(BEYOND), -XEN_E.EINVAL],
    ['unmask a free port', () => d.evtchn.unmask(FREE), 0],
  ];
  const got = rows.map(([name, f]) => [name, f()]);
  assert.equal(got, rows.map(([name, , want]) => [name, want]));
  // Nothing changed by the failures: d has its one unbound port, e none.
  assert.equal(d.evtchn.boundPorts(), [unbound]);
  assert.is(d.evtchn.state[unbound], ECS.UNBOUND);
  assert.is(d.evtchn.notify[unbound], 0);
  assert.equal(e.evtchn.boundPorts(), []);
});

t.run();
