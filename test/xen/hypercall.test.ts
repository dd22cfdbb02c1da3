import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CONSOLEIO_write, DOMID_SELF, EVTCHN_BIND_VIRQ, EVTCHN_STATUS, EVTCHNOP, EVTCHNSTAT, HVM_PARAM, HVMOP, HYPERVISOR, XEN_ADD_TO_PHYSMAP,
  XEN_E, XEN_HVM_PARAM, XENMAPSPACE, XENMEM_add_to_physmap, XENVER_version,
} from '../../src/abi/xen.ts';
import { Choices } from '../../src/sim/index.ts';
import { args, firstDiff, guest, running, setup, snapshot } from './_helpers.ts';

const t = suite('hypercall');

t('bad arguments return -EFAULT/-EINVAL/-ENOSYS and change nothing', () => {
  const { hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  running(v);
  const before = snapshot(d);
  const far = d.physmap.nrFrames * 4096;
  const cases: [number, number[], number][] = [
    [99, [], -XEN_E.ENOSYS],
    [HYPERVISOR.vcpu_op, [0, 0], -XEN_E.ENOSYS],
    [HYPERVISOR.event_channel_op, [EVTCHNOP.send, far], -XEN_E.EFAULT],
    [HYPERVISOR.event_channel_op, [EVTCHNOP.send, far - 2], -XEN_E.EFAULT],
    [HYPERVISOR.event_channel_op, [EVTCHNOP.send, -4], -XEN_E.EFAULT],
    [HYPERVISOR.event_channel_op, [EVTCHNOP.send, 0.5], -XEN_E.EFAULT],
    [HYPERVISOR.event_channel_op, [EVTCHNOP.reset, 0], -XEN_E.EPERM], // evtchn_reset { dom = 0 }: not ours
    [HYPERVISOR.event_channel_op, [EVTCHNOP.reset, far - 1], -XEN_E.EFAULT],
    [HYPERVISOR.event_channel_op, [77, 0], -XEN_E.ENOSYS],
    [HYPERVISOR.memory_op, [XENMEM_add_to_physmap, far], -XEN_E.EFAULT],
    [HYPERVISOR.memory_op, [1234, 0], -XEN_E.ENOSYS],
    [HYPERVISOR.console_io, [CONSOLEIO_write, 10, far - 5], -XEN_E.EFAULT],
    [HYPERVISOR.console_io, [CONSOLEIO_write, -1, 0], -XEN_E.EINVAL],
    [HYPERVISOR.console_io, [7, 0, 0], -XEN_E.ENOSYS],
    [HYPERVISOR.hvm_op, [HVMOP.set_param, far], -XEN_E.EFAULT],
    [HYPERVISOR.hvm_op, [55, 0], -XEN_E.ENOSYS],
    [HYPERVISOR.sched_op, [SCHEDOP_WATCHDOG, 0], -XEN_E.ENOSYS],
    [HYPERVISOR.sched_op, [2, far], -XEN_E.EFAULT],
    [HYPERVISOR.grant_table_op, [0, far, 1], -XEN_E.EFAULT],
    [HYPERVISOR.grant_table_op, [0, 0, 100000], -XEN_E.EINVAL],
    [HYPERVISOR.xen_version, [5, 0], -XEN_E.ENOSYS],
  ];
  for (const [op, a, rc] of cases) {
    assert.is(v.hypercall(op, ...(a as [number?, number?, number?])), rc, `op ${op} ${JSON.stringify(a)}`);
  }
  // Struct fields out of range.
  const A = args(d);
  A.setUint32(EVTCHN_BIND_VIRQ.virq, 99, true);
  A.setUint32(EVTCHN_BIND_VIRQ.vcpu, 0, true);
  assert.is(v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.bind_virq, 0), -XEN_E.EINVAL);
  A.setUint32(EVTCHN_BIND_VIRQ.virq, 0, true);
  A.setUint32(EVTCHN_BIND_VIRQ.vcpu, 7, true);
  assert.is(v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.bind_virq, 0), -XEN_E.ENOENT);
  A.setUint16(XEN_HVM_PARAM.domid, DOMID_SELF, true);
  A.setUint32(XEN_HVM_PARAM.index, 1000, true);
  assert.is(v.hypercall(HYPERVISOR.hvm_op, HVMOP.set_param, 0), -XEN_E.EINVAL);
  A.setUint16(XEN_HVM_PARAM.domid, 0, true);
  A.setUint32(XEN_HVM_PARAM.index, 1, true);
  assert.is(v.hypercall(HYPERVISOR.hvm_op, HVMOP.set_param, 0), -XEN_E.EPERM, 'another domain');
  A.setUint16(XEN_ADD_TO_PHYSMAP.domid, DOMID_SELF, true);
  A.setUint32(XEN_ADD_TO_PHYSMAP.space, XENMAPSPACE.shared_info, true);
  A.setBigUint64(XEN_ADD_TO_PHYSMAP.idx, 0n, true);
  A.setBigUint64(XEN_ADD_TO_PHYSMAP.gpfn, BigInt(d.physmap.nrFrames), true);
  assert.is(v.hypercall(HYPERVISOR.memory_op, XENMEM_add_to_physmap, 0), -XEN_E.EINVAL, 'gpfn out of range');
  A.setBigUint64(XEN_ADD_TO_PHYSMAP.gpfn, 3n, true);
  A.setUint32(XEN_ADD_TO_PHYSMAP.space, 9, true);
  assert.is(v.hypercall(HYPERVISOR.memory_op, XENMEM_add_to_physmap, 0), -XEN_E.ENOSYS);
  // Arguments of the wrong type from a confused guest.
  assert.is(v.hypercall(HYPERVISOR.event_channel_op, 'x' as unknown as number, {} as unknown as number), -XEN_E.ENOSYS);
  assert.is(v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.send, undefined), -XEN_E.EINVAL, 'gpa 0: port 0 (zeroed arg page)');
  // Everything but gpfn 0 (the argument page) is unchanged.
  args(d).setUint32(0, 0, true);
  assert.is(firstDiff(snapshot(d), before), '');
  assert.equal(hv.internalErrors, []);
});

const SCHEDOP_WATCHDOG = 6;

t('good calls: version, console, params, status, shared_info mapping', () => {
  const { hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  running(v);
  assert.is(v.hypercall(HYPERVISOR.xen_version, XENVER_version, 0), (4 << 16) | 17);
  new Uint8Array(d.physmap.frame(1)).set(new TextEncoder().encode('hello\n'), 100);
  let out = '';
  d.onConsole = (s) => { out += s; };
  assert.is(v.hypercall(HYPERVISOR.console_io, CONSOLEIO_write, 6, 4096 + 100), 0);
  assert.is(out, 'hello\n');
  assert.is(d.console, 'hello\n');
  const A = args(d);
  A.setUint16(XEN_HVM_PARAM.domid, DOMID_SELF, true);
  A.setUint32(XEN_HVM_PARAM.index, HVM_PARAM.STORE_PFN, true);
  A.setBigUint64(XEN_HVM_PARAM.value, 0xfeffen, true);
  assert.is(v.hypercall(HYPERVISOR.hvm_op, HVMOP.set_param, 0), 0);
  A.setBigUint64(XEN_HVM_PARAM.value, 0n, true);
  assert.is(v.hypercall(HYPERVISOR.hvm_op, HVMOP.get_param, 0), 0);
  assert.is(A.getBigUint64(XEN_HVM_PARAM.value, true), 0xfeffen);
  assert.is(d.getParam(HVM_PARAM.STORE_PFN), 0xfeffen);
  const port = d.evtchn.allocUnbound(0);
  A.setUint16(EVTCHN_STATUS.dom, DOMID_SELF, true);
  A.setUint32(EVTCHN_STATUS.port, port, true);
  assert.is(v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.status, 0), 0);
  assert.is(A.getUint32(EVTCHN_STATUS.status, true), EVTCHNSTAT.unbound);
  assert.is(A.getUint16(EVTCHN_STATUS.u, true), 0);
  // shared_info at gpfn 9: the guest's frame is replaced by the hypervisor's page.
  A.setUint16(XEN_ADD_TO_PHYSMAP.domid, DOMID_SELF, true);
  A.setUint32(XEN_ADD_TO_PHYSMAP.space, XENMAPSPACE.shared_info, true);
  A.setBigUint64(XEN_ADD_TO_PHYSMAP.idx, 0n, true);
  A.setBigUint64(XEN_ADD_TO_PHYSMAP.gpfn, 9n, true);
  assert.is(v.hypercall(HYPERVISOR.memory_op, XENMEM_add_to_physmap, 0), 0);
  assert.is(v.frame(9), d.shared.buf);
  assert.is(new DataView(v.frame(9)).getUint32(3072, true), 2, 'wc_version');
});

t('fuzz: 5000 random hypercalls never throw into the host', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv, 'fuzz', 2);
  const v = d.vcpus[0]!;
  running(v);
  dom0.evtchn.allocUnbound(d.id);
  const c = Choices.fromSeed(42);
  const ops = [12, 15, 17, 18, 20, 24, 29, 32, 34, 0, 1000];
  const pick = () => [0, 1, 3, 4, 6, 7, 8, 9, 23, 0x7ff0, 4095, 4096, 65535, -1, 2 ** 40, 256 * 1024 - 8, c.choose(1 << 20)][c.choose(17)]!;
  for (let i = 0; i < 5000; i++) {
    // Garbage in the argument page too.
    const page = new Uint8Array(d.physmap.frame(0));
    for (let k = 0; k < 64; k++) page[k] = c.choose(256);
    if (c.oneIn(4)) args(d).setUint16(0, DOMID_SELF, true);
    v.state = 'running';
    const op = ops[c.choose(ops.length)]!;
    const rc = v.hypercall(op, c.choose(12), pick(), c.choose(3), pick(), pick());
    assert.type(rc, 'number');
  }
  assert.equal(hv.internalErrors, []);
});

t.run();
