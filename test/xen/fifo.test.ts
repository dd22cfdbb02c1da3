// FIFO event channels: the hypercalls' rules and errors, delivery end to end
// through the hypercall interface (a Linux-like consumer on the guest side),
// the 'e' dump in Xen's FIFO format, the port limits, and the way back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EVTCHN_EXPAND_ARRAY, EVTCHN_INIT_CONTROL, EVTCHN_RESET, EVTCHN_SET_PRIORITY, EVTCHNOP_FIFO, FIFO_LINKED, FIFO_MASKED,
  FIFO_PENDING,
} from '../../src/abi/evtchn_fifo.ts';
import { DOMID_SELF, EVTCHNOP, HYPERVISOR, SHARED_INFO_U32, XEN_E } from '../../src/abi/xen.ts';
import { dumpEvtchn } from '../../src/xen/debugkeys.ts';
import { evtchnReset, fifoExpandArray, fifoInitControl } from '../../src/xen/evtchn_fifo.ts';
import { pollPorts } from '../../src/xen/sched.ts';
import type { Domain } from '../../src/xen/index.ts';
import { FifoConsumer } from '../support/fifo_guest.ts';
import { args, firstDiff, guest, running, setup, snapshot } from './_helpers.ts';

const t = suite('fifo');
const LAYOUT = { argGfn: 0, controlGfn: 1, firstArrayGfn: 8 };
const VEC = 0x20;

/** A guest on FIFO with `pages` array pages, its upcall vector set, and a consumer run from its interrupt handler. */
function fifoGuest(pages = 1, vcpus = 1) {
  const env = setup();
  const d = guest(env.hv, 'fifo', vcpus);
  const v = d.vcpus[0]!;
  const e = running(v);
  v.upcallVector = VEC;
  const c = new FifoConsumer(v, LAYOUT);
  assert.is(c.initControl(), 0);
  if (pages > 0) assert.is(c.setup(pages * 1024 - 1), 0);
  // Linux's upcall: upcall_pending = 0, then handle the events.
  e.onInterrupt = () => {
    d.shared.u8[0] = 0;
    c.handleEvents();
  };
  return { ...env, d, v, e, c };
}

/** dom0 binds a new unbound port of `d`: returns [guest port, dom0 port] (the guest port is unmasked by its consumer). */
function link(dom0: Domain, d: Domain, c?: FifoConsumer): [number, number] {
  const p = d.evtchn.allocUnbound(0);
  const p0 = dom0.evtchn.bindInterdomain(d.id, p);
  assert.ok(p > 0 && p0 > 0);
  c?.unmask(p);
  return [p, p0];
}

t('init_control: errors change nothing; link_bits only on success; the first success switches to FIFO', () => {
  const { hv } = setup();
  const d = guest(hv, 'g', 2);
  const v = d.vcpus[0]!;
  running(v);
  const A = args(d);
  const call = (gfn: number, offset: number, vcpu: number) => {
    A.setBigUint64(EVTCHN_INIT_CONTROL.control_gfn, BigInt(gfn), true);
    A.setUint32(EVTCHN_INIT_CONTROL.offset, offset, true);
    A.setUint32(EVTCHN_INIT_CONTROL.vcpu, vcpu, true);
    A.setUint8(EVTCHN_INIT_CONTROL.link_bits, 0);
    return v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP_FIFO.init_control, 0);
  };
  const before = snapshot(d);
  assert.is(call(1, 0, 2), -XEN_E.ENOENT);
  assert.is(call(1, 4028, 0), -XEN_E.EINVAL, 'crosses the page');
  assert.is(call(1, 4, 0), -XEN_E.EINVAL, 'not 8-aligned');
  assert.is(call(d.physmap.nrFrames, 0, 0), -XEN_E.EINVAL, 'not guest RAM');
  assert.is(v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP_FIFO.init_control, d.physmap.nrFrames * 4096 - 8), -XEN_E.EFAULT);
  assert.is(A.getUint8(EVTCHN_INIT_CONTROL.link_bits), 0, 'not written on failure');
  assert.is(d.evtchn.abi, '2l', 'a failed first call stays 2L');
  assert.is(firstDiff(snapshot(d), before), '');
  assert.is(call(1, 4024, 0), 0, 'the last offset that fits');
  assert.is(A.getUint8(EVTCHN_INIT_CONTROL.link_bits), 17);
  assert.is(d.evtchn.abi, 'fifo');
  assert.is(call(2, 0, 0), -XEN_E.EINVAL, 'vCPU 0 already has a block');
  assert.is(call(2, 0, 1), 0, 'vCPU 1 gets its own');
});

t('expand_array and set_priority: errors on 2L and on FIFO', () => {
  const { hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  running(v);
  const A = args(d);
  const expand = (gfn: number) => {
    A.setBigUint64(EVTCHN_EXPAND_ARRAY.array_gfn, BigInt(gfn), true);
    return v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP_FIFO.expand_array, 0);
  };
  const prio = (port: number, p: number) => {
    A.setUint32(EVTCHN_SET_PRIORITY.port, port, true);
    A.setUint32(EVTCHN_SET_PRIORITY.priority, p, true);
    return v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP_FIFO.set_priority, 0);
  };
  const p = d.evtchn.bindIpi(0);
  assert.is(expand(8), -XEN_E.EOPNOTSUPP);
  assert.is(prio(p, 3), -XEN_E.ENOSYS);
  assert.is(prio(5000, 3), -XEN_E.EINVAL, 'the port check comes first');
  assert.is(fifoInitControl(d, 0, 1, 0), 0);
  assert.is(expand(d.physmap.nrFrames), -XEN_E.EINVAL);
  assert.is(expand(8), 0);
  assert.is(d.evtchn.fifo!.numEvtchns, 1024);
  assert.is(prio(p, 16), -XEN_E.EINVAL);
  assert.is(prio(p + 1, 3), -XEN_E.EACCES, 'free port: not usable');
  assert.is(prio(0, 3), -XEN_E.EACCES, 'reserved port');
  assert.is(prio(5000, 3), -XEN_E.EINVAL);
  assert.is(prio(p, 15), 0);
  assert.is(d.evtchn.fifo!.priority[p], 15);
});

t('delivery through the hypercalls: one upcall per empty queue, FIFO order, coalescing, priorities', () => {
  const { dom0, d, v, e, c } = fifoGuest();
  const ports = [0, 1, 2].map(() => link(dom0, d, c));
  // bind_interdomain set each dom0 end pending; the guest ends saw nothing yet.
  const [[a, a0], [b, b0], [x, x0]] = ports as [[number, number], [number, number], [number, number]];
  assert.is(e.vectors.length, 0);
  v.IF = false; // hold the interrupt while we queue three events
  dom0.evtchn.send(b0);
  dom0.evtchn.send(a0);
  dom0.evtchn.send(b0); // coalesced: b is PENDING and LINKED already
  dom0.evtchn.send(x0);
  assert.ok(v.lapic.requested(VEC), 'b became a head: the upcall');
  const fifo = d.evtchn.fifo!;
  assert.is(fifo.word(b), (FIFO_PENDING | FIFO_LINKED | a) >>> 0, 'b links to a');
  assert.is(fifo.word(a), (FIFO_PENDING | FIFO_LINKED | x) >>> 0);
  assert.is(fifo.word(x), (FIFO_PENDING | FIFO_LINKED) >>> 0, 'the tail links nowhere');
  v.IF = true;
  v.deliver();
  assert.is(e.vectors.length, 1, 'one upcall for the three');
  assert.equal(c.handled, [b, a, x], 'the order of the sends');
  assert.is(fifo.word(a), 0, 'consumed: unlinked, not pending');
  // Priorities: x at 2 (higher than the default 7) overtakes a and b.
  assert.is(c.setPriority(x, 2), 0);
  v.IF = false;
  dom0.evtchn.send(a0);
  dom0.evtchn.send(b0);
  dom0.evtchn.send(x0);
  const cb = new Uint32Array(d.physmap.frame(LAYOUT.controlGfn), 0, 18);
  assert.is(cb[0], (1 << 7) | (1 << 2), 'ready: queues 7 and 2');
  assert.is(cb[2 + 2], x, 'head[2]');
  assert.is(cb[2 + 7], a, 'head[7]: the old tail x was consumed, so a started an empty queue');
  v.IF = true;
  v.deliver();
  assert.is(e.vectors.length, 2, 'one upcall: x found upcall_pending already set');
  assert.equal(c.handled.slice(3), [x, a, b]);
});

t('masked ports: pending without a link; EVTCHNOP_unmask relinks; the guest unmask of a pending port asks Xen', () => {
  const { dom0, d, v, e, c } = fifoGuest();
  const [p, p0] = link(dom0, d, c);
  c.mask(p);
  dom0.evtchn.send(p0);
  const fifo = d.evtchn.fifo!;
  assert.is(fifo.word(p), (FIFO_PENDING | FIFO_MASKED) >>> 0, 'not linked while masked');
  assert.is(e.vectors.length, 0);
  assert.ok(d.evtchn.isMasked(p) && d.evtchn.isPending(p));
  c.unmask(p); // PENDING: leaves MASKED to Xen
  assert.equal(c.handled, [p]);
  assert.is(e.vectors.length, 1);
  assert.is(fifo.word(p), 0);
  // EVTCHNOP_unmask on an unmasked, pending, linked port: set_pending finds it LINKED and raises nothing.
  v.IF = false;
  dom0.evtchn.send(p0);
  assert.is(d.evtchn.unmask(p), 0);
  assert.is(fifo.word(p), (FIFO_PENDING | FIFO_LINKED) >>> 0);
  v.IF = true;
  v.deliver();
  assert.equal(c.handled, [p, p]);
  // A masked port consumed from its queue stays pending and is not handled.
  v.IF = false;
  dom0.evtchn.send(p0);
  c.mask(p);
  v.IF = true;
  v.deliver();
  assert.equal(c.handled, [p, p], 'dropped by the consumer, still pending');
  assert.is(fifo.word(p), (FIFO_PENDING | FIFO_MASKED) >>> 0);
});

t('a guest that clears MASKED by hand on a PENDING port and skips EVTCHNOP_unmask strands it only until the next send', () => {
  const { dom0, d, v, e, c } = fifoGuest();
  const [p, p0] = link(dom0, d, c);
  c.mask(p);
  dom0.evtchn.send(p0);
  assert.is(d.evtchn.fifo!.word(p), (FIFO_PENDING | FIFO_MASKED) >>> 0);
  new Uint32Array(d.physmap.frame(LAYOUT.firstArrayGfn))[p] = FIFO_PENDING; // MASKED cleared by hand, no EVTCHNOP_unmask
  assert.is(dumpEvtchn([d]).split('\n')[4], `(XEN)        1 [1/0/  -   ]: s=3 n=0 x=0 d=0 p=${p0}`, 'pending, unmasked, on no queue');
  v.deliver();
  assert.equal(c.handled, [], 'no upcall: nothing links it');
  // Unlike 2L ([1/0/0] stays wedged: set_pending stops at PENDING), FIFO links an
  // unmasked, unlinked port on every set_pending, pending or not.
  dom0.evtchn.send(p0);
  v.deliver();
  assert.equal(c.handled, [p]);
  assert.is(e.vectors.length, 1);
});

t('ports without an event word: masked, pending kept in Xen, raised when the page comes', () => {
  const { dom0, d, c } = fifoGuest(1);
  for (let i = 1; i < 1030; i++) d.evtchn.bindIpi(0);
  d.evtchn.close(1029);
  const p = d.evtchn.allocUnbound(0);
  assert.is(p, 1029);
  const p0 = dom0.evtchn.bindInterdomain(d.id, p);
  dom0.evtchn.send(p0);
  assert.ok(d.evtchn.isMasked(p), 'no word reads masked');
  assert.not.ok(d.evtchn.isPending(p), 'no word reads not pending');
  assert.is(d.evtchn.fifo!.printState(p), '?     ');
  assert.equal(c.handled, []);
  // Linux adds the page with every word MASKED; Xen re-raises p: PENDING, not linked (masked).
  assert.is(c.setup(p), 0);
  assert.is(d.evtchn.fifo!.word(p), (FIFO_PENDING | FIFO_MASKED) >>> 0);
  c.unmask(p);
  assert.equal(c.handled, [p]);
});

t('switching: bound ports keep their 2L pending bit; no way back but EVTCHNOP_reset', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  const e = running(v);
  v.upcallVector = VEC;
  const [p, p0] = link(dom0, d);
  d.evtchn.mask(p); // 2L mask: it has no meaning under FIFO
  dom0.evtchn.send(p0);
  assert.ok(d.shared.u32[SHARED_INFO_U32.pending]! & (1 << p));
  const c = new FifoConsumer(v, LAYOUT);
  assert.is(c.initControl(), 0);
  assert.is(d.evtchn.abi, 'fifo');
  assert.is(c.setup(10), 0); // the page brings p's saved pending; the word is preset MASKED
  assert.is(d.evtchn.fifo!.word(p), (FIFO_PENDING | FIFO_MASKED) >>> 0);
  e.onInterrupt = () => c.handleEvents();
  c.unmask(p);
  assert.equal(c.handled, [p]);
  // init_control again on the same vCPU: -EINVAL; there is no op back but reset.
  assert.is(c.initControl(), -XEN_E.EINVAL);
  const A = args(d);
  A.setUint16(EVTCHN_RESET.dom, 0, true);
  assert.is(v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.reset, 0), -XEN_E.EPERM, 'not our domain');
  assert.is(evtchnReset(dom0, d.id), -XEN_E.EINVAL, 'dom0 may reset only a paused domain');
  assert.is(evtchnReset(dom0, 77), -XEN_E.ESRCH);
  A.setUint16(EVTCHN_RESET.dom, DOMID_SELF, true);
  assert.is(v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.reset, 0), 0);
  assert.is(d.evtchn.abi, '2l');
  assert.equal(d.evtchn.boundPorts(), [], 'every port closed');
  assert.is(dom0.evtchn.state[p0], 2, "dom0's end went back to UNBOUND");
  assert.is(d.evtchn.bindIpi(0), 1);
  assert.is(c.initControl(), 0, 'and FIFO again');
  assert.is(d.evtchn.abi, 'fifo');
  d.paused = true;
  assert.is(evtchnReset(dom0, d.id), 0, 'the controller resets a paused domain');
  assert.is(d.evtchn.abi, '2l');
});

t('a FREE port still LINKED is not reallocated until the guest unlinks it', () => {
  const { dom0, d, v, c } = fifoGuest();
  const [p, p0] = link(dom0, d, c);
  v.IF = false;
  dom0.evtchn.send(p0);
  assert.is(d.evtchn.close(p), 0);
  assert.ok(d.evtchn.fifo!.isBusy(p), 'close clears PENDING only');
  const q = d.evtchn.allocUnbound(0);
  assert.is(q, p + 1, 'p is busy: skipped');
  v.IF = true;
  v.deliver();
  assert.equal(c.handled, [], 'not pending any more: unlinked, not handled');
  assert.is(d.evtchn.allocUnbound(0), p, 'unlinked: lowest free again');
});

t('port limits: 131072 under FIFO; max_evtchn_port; 2L stays at 4096', () => {
  const { hv } = setup();
  const d = hv.createDomain({ name: 'big', memKiB: 1024, vcpus: 1 });
  // valid_evtchns: one bucket of 64 at first (an idle domain's table is small), a bucket more when needed.
  assert.is(d.evtchn.nrValid, 64);
  assert.is(d.evtchn.state.length, 64);
  assert.is(d.evtchn.unmask(64), -XEN_E.EINVAL, 'port_is_valid: never allocated');
  for (let i = 1; i < 64; i++) d.evtchn.bindIpi(0);
  assert.is(d.evtchn.bindIpi(0), 64);
  assert.is(d.evtchn.nrValid, 128);
  assert.is(d.evtchn.unmask(100), 0, 'valid now (FREE: nothing to do)');
  for (let i = 65; i < 4096; i++) d.evtchn.bindIpi(0);
  assert.is(d.evtchn.bindIpi(0), -XEN_E.ENOSPC);
  assert.is(fifoInitControl(d, 0, 1, 0), 0);
  assert.is(d.evtchn.bindIpi(0), 4096);
  for (let i = 4097; i < 131072; i++) d.evtchn.bindIpi(0);
  assert.is(d.evtchn.bindIpi(0), -XEN_E.ENOSPC);
  assert.is(d.evtchn.nrValid, 131072);
  assert.is(d.evtchn.send(131071), 0);
  assert.not.ok(d.evtchn.isPending(131071), 'no event array page');
  for (let i = 0; i < 128; i++) assert.is(fifoExpandArray(d, 8 + i), 0);
  assert.is(fifoExpandArray(d, 200), -XEN_E.ENOSPC, 'after 128 pages');
  assert.ok(d.evtchn.isPending(131071), 'raised when its page came');
  assert.is(pollPorts(d.vcpus[0]!, [131071], 0), 0, 'SCHEDOP_poll names FIFO ports (pending: no block)');
  assert.is(pollPorts(d.vcpus[0]!, [131072], 0), -XEN_E.EINVAL, 'port >= max_evtchns');
  assert.is(d.evtchn.send(131072), -XEN_E.EINVAL);
  const small = hv.createDomain({ name: 'small', memKiB: 256, vcpus: 1, maxEvtchnPort: 1023 });
  for (let i = 1; i < 1024; i++) assert.is(small.evtchn.bindIpi(0), i);
  assert.is(small.evtchn.bindIpi(0), -XEN_E.ENOSPC, 'xl max_event_channels');
  assert.is(fifoInitControl(small, 0, 1, 0), 0);
  assert.is(small.evtchn.bindIpi(0), -XEN_E.ENOSPC, 'under FIFO too');
});

t("'e' dump of a FIFO domain: Xen's third field (linked, unlinked, no word)", () => {
  const { dom0, d, v, c } = fifoGuest(1);
  const [a, a0] = link(dom0, d, c);
  const [b, b0] = link(dom0, d, c);
  const u = d.evtchn.allocUnbound(0);
  for (let i = u + 1; i < 1030; i++) d.evtchn.bindIpi(0);
  const far = d.evtchn.allocUnbound(0);
  v.IF = false;
  dom0.evtchn.send(a0);
  dom0.evtchn.send(b0);
  const lines = dumpEvtchn([d]).split('\n');
  assert.equal(lines.slice(0, 8), [
    "(XEN) 'e' pressed -> dumping event-channel info",
    `(XEN) Event channel information for domain ${d.id}:`,
    '(XEN) Polling vCPUs: {}',
    '(XEN)     port [p/m/s]',
    `(XEN)        1 [1/0/  2   ]: s=3 n=0 x=0 d=0 p=${a0}`,
    `(XEN)        2 [1/0/  0   ]: s=3 n=0 x=0 d=0 p=${b0}`,
    '(XEN)        3 [0/1/  -   ]: s=2 n=0 x=0 d=0',
    '(XEN)        4 [0/1/  -   ]: s=6 n=0 x=0',
  ]);
  assert.is(lines.at(-2), `(XEN)     ${far} [0/1/?     ]: s=2 n=0 x=0 d=0`);
  // BUSY (Xen holds it on a tail word while it retries a link; here set by hand) prints B.
  const words = new Uint32Array(d.physmap.frame(LAYOUT.firstArrayGfn));
  words[b] = words[b]! | (1 << 28);
  assert.match(dumpEvtchn([d]), /\(XEN\)        2 \[1\/0\/B 0   \]: /);
  assert.equal([a, b, u, far], [1, 2, 3, 1030]);
});

t('bind_vcpu moves future events to the other queue; the old tail is forgotten', () => {
  const { dom0, d, c } = fifoGuest(1, 2);
  const v1 = d.vcpus[1]!;
  const e1 = running(v1);
  v1.upcallVector = VEC;
  const c1 = new FifoConsumer(v1, LAYOUT, undefined, c);
  assert.is(c1.initControl(), 0);
  e1.onInterrupt = () => {
    d.shared.u8[64] = 0;
    c1.handleEvents();
  };
  const [p, p0] = link(dom0, d, c);
  dom0.evtchn.send(p0);
  d.vcpus[0]!.deliver();
  assert.equal(c.handled, [p]);
  assert.is(d.evtchn.bindVcpu(p, 1), 0);
  dom0.evtchn.send(p0);
  assert.not.ok(d.vcpus[0]!.lapic.requested(VEC));
  v1.deliver();
  assert.equal(c1.handled, [p], 'on vCPU 1 now');
  assert.equal(c.handled, [p]);
});

t.run();
