// dom0's kernel on the FIFO ABI (src/dom0/kernel/events_fifo.ts), as Linux
// uses it when Xen offers it: more than the 4096 ports of 2L.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GuestEntry } from '../../src/abi/doors.ts';
import {
  DOMID_SELF, EVTCHN_PORT_ARG, EVTCHNOP, HYPERVISOR, PAGE_SIZE, XEN_ADD_TO_PHYSMAP, XEN_E, XENMAPSPACE, XENMEM_add_to_physmap,
} from '../../src/abi/xen.ts';
import { attachDom0Events } from '../../src/dom0/kernel/events.ts';
import { NS } from '../../src/sim/index.ts';
import { dumpEvtchn } from '../../src/xen/debugkeys.ts';
import type { Vcpu } from '../../src/xen/index.ts';
import { FifoConsumer } from '../support/fifo_guest.ts';
import { guest, setup } from './_helpers.ts';

const t = suite('fifo dom0');

/** Two 2L guests with `perGuest` unbound ports each for dom0; dom0 binds them all. */
function bindMany(abi: '2l' | 'fifo', perGuest: number) {
  const { sim, hv, dom0 } = setup();
  const host = attachDom0Events(dom0, abi);
  const guests = [guest(hv, 'a'), guest(hv, 'b')];
  const got = new Map<number, number>();
  const pairs: { d: number; gport: number; lport: number }[] = [];
  let firstError = 0;
  for (const g of guests) {
    for (let i = 0; i < perGuest; i++) {
      const gport = g.evtchn.allocUnbound(0);
      assert.ok(gport > 0);
      const lport = host.evtchn.bindInterdomain(g.id, gport);
      if (lport < 0) {
        firstError ||= lport;
        continue;
      }
      assert.is(host.bindHandler(lport, (p) => got.set(p, (got.get(p) ?? 0) + 1)), 0);
      pairs.push({ d: g.id, gport, lport });
    }
  }
  return { sim, hv, dom0, host, guests, got, pairs, firstError };
}

t('dom0 on FIFO binds 5,000 interdomain ports and gets every event', () => {
  const w = bindMany('fifo', 2500);
  assert.is(w.dom0.evtchn.abi, 'fifo');
  assert.is(w.firstError, 0);
  assert.is(w.pairs.length, 5000);
  assert.is(Math.max(...w.pairs.map((p) => p.lport)), 5000);
  // The bind's own event (Xen sets the new local port pending) reaches each handler once.
  assert.is(w.sim.run().reason, 'idle');
  assert.is(w.got.size, 5000);
  assert.ok([...w.got.values()].every((n) => n === 1));
  // Every guest sends; sends to a port still linked coalesce.
  for (const { d, gport } of w.pairs) {
    const g = w.hv.domain(d)!;
    assert.is(g.evtchn.send(gport), 0);
    assert.is(g.evtchn.send(gport), 0);
  }
  assert.is(w.sim.run().reason, 'idle');
  assert.ok([...w.got.values()].every((n) => n === 2), 'one more event per port');
  assert.equal(w.hv.internalErrors, []);
  assert.match(dumpEvtchn([w.dom0]), /\(XEN\)     5000 \[0\/0\/  -   \]: s=3 n=0 x=0 d=\d+ p=\d+\n/);
  // Closing unbinds and masks; the port is reused lowest-free.
  const last = w.pairs.at(-1)!;
  assert.is(w.host.evtchn.close(last.lport), 0);
  assert.is(w.hv.domain(last.d)!.evtchn.send(last.gport), 0, 'now unbound: dropped');
  assert.is(w.host.evtchn.bindInterdomain(last.d, last.gport), last.lport);
});

t('dom0 on 2L stops at 4095 ports: -ENOSPC', () => {
  const w = bindMany('2l', 2100);
  assert.is(w.dom0.evtchn.abi, '2l');
  assert.is(w.pairs.length, 4095);
  assert.is(w.firstError, -XEN_E.ENOSPC);
});

t('a handler that sends to its own port gets a new event, not a lost one', () => {
  const { sim, hv, dom0 } = setup();
  const host = attachDom0Events(dom0);
  const g = guest(hv);
  const gp = g.evtchn.allocUnbound(0);
  const lp = host.evtchn.bindInterdomain(g.id, gp);
  let n = 0;
  host.bindHandler(lp, () => {
    n++;
    if (n < 10) g.evtchn.send(gp); // the guest's end sends back while dom0's handler runs: PENDING was cleared, LINKED too
  });
  assert.is(sim.run().reason, 'idle');
  assert.is(n, 10);
  assert.equal(hv.internalErrors, []);
});

/**
 * A FIFO guest kernel in miniature: its upcall handler only EOIs; its loop
 * is "cli; check upcall_pending; sti; hlt" (the fixed Mirage order: the
 * check runs with IF=0 and sti is the last door before hlt), and a set
 * upcall_pending is cleared before the consume loop runs (Linux's order).
 */
class FifoKernel implements GuestEntry {
  private upcall!: Uint8Array;
  private booted = false;
  readonly c: FifoConsumer;
  port = -1;
  got = 0;

  /** racy: a door call between sti and hlt (the §4.4 lost interrupt: the upcall is taken and EOI'd there). */
  constructor(private readonly v: Vcpu, private readonly remotePort: number, private readonly rounds: number, private readonly racy = false) {
    this.c = new FifoConsumer(v, { argGfn: 0, controlGfn: 1, firstArrayGfn: 8 }, (p) => {
      if (p !== this.port) return;
      if (++this.got < this.rounds) this.send();
    });
  }

  private send(): void {
    new DataView(this.v.frame(0)).setUint32(EVTCHN_PORT_ARG.port, this.port, true);
    if (this.v.hypercall(HYPERVISOR.event_channel_op, EVTCHNOP.send, 0) !== 0) throw new Error('send');
  }

  private boot(): void {
    const v = this.v;
    const gpfn = v.nrFrames - 1;
    const a = new DataView(v.frame(0));
    a.setUint16(XEN_ADD_TO_PHYSMAP.domid, DOMID_SELF, true);
    a.setUint32(XEN_ADD_TO_PHYSMAP.space, XENMAPSPACE.shared_info, true);
    a.setBigUint64(XEN_ADD_TO_PHYSMAP.idx, 0n, true);
    a.setBigUint64(XEN_ADD_TO_PHYSMAP.gpfn, BigInt(gpfn), true);
    if (v.hypercall(HYPERVISOR.memory_op, XENMEM_add_to_physmap, 0) !== 0) throw new Error('add_to_physmap');
    this.upcall = new Uint8Array(v.frame(gpfn), 0, 1);
    if (this.c.initControl() !== 0) throw new Error('init_control');
    v.upcallVector = 0x20; // (HVMOP_set_evtchn_upcall_vector, as a test shortcut)
    this.port = v.dom.evtchn.bindInterdomain(0, this.remotePort);
    if (this.c.setup(this.port) !== 0) throw new Error('expand_array');
    this.c.unmask(this.port); // the bind's own event (pending since bind) is handled here or at the next upcall
  }

  interrupt(): void {
    this.v.eoi();
  }

  resume(): void {
    if (!this.booted) {
      this.booted = true;
      this.v.sti();
      this.boot();
    }
    for (;;) {
      this.v.cli();
      this.v.point('read upcall_pending');
      if (this.upcall[0] !== 0) {
        this.upcall[0] = 0;
        this.v.sti();
        this.c.handleEvents();
        continue;
      }
      this.v.sti();
      if (this.racy) this.v.point('between sti and hlt');
      if (this.v.hlt()) return;
    }
  }
}

t('a FIFO guest and dom0 on FIFO ping-pong through the scheduler, under seeded preemption', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const { sim, hv, dom0 } = setup(seed, 2);
    const host = attachDom0Events(dom0);
    const g = guest(hv, 'fifo');
    const p0 = dom0.evtchn.allocUnbound(g.id);
    let n = 0;
    host.bindHandler(p0, () => {
      n++;
      dom0.evtchn.send(p0);
    });
    const k = new FifoKernel(g.vcpus[0]!, p0, 50);
    g.vcpus[0]!.start(k);
    const r = sim.run({ until: NS.s });
    assert.is(r.reason, 'idle', `seed ${seed}`);
    // The guest's first event is its bind's own (Xen sets the new local port pending); it answers 49 of 50.
    assert.is(k.got, 50, `seed ${seed}: the guest got every event`);
    assert.is(n, 49, `seed ${seed}: dom0 got every send`);
    assert.is(g.evtchn.abi, 'fifo');
    assert.equal(hv.internalErrors, []);
  }
});

t('the hang oracle reads FIFO ports: a door between sti and hlt loses the upcall of a linked port', () => {
  const hangs: string[] = [];
  for (let seed = 1; seed <= 20 && hangs.length === 0; seed++) {
    const { sim, hv, dom0 } = setup(seed, 2);
    const host = attachDom0Events(dom0);
    const g = guest(hv, 'fifo');
    const p0 = dom0.evtchn.allocUnbound(g.id);
    host.bindHandler(p0, () => dom0.evtchn.send(p0));
    g.vcpus[0]!.start(new FifoKernel(g.vcpus[0]!, p0, 50, true));
    const r = sim.run({ until: NS.s });
    if (r.reason === 'hang') hangs.push(r.hang.summary, r.hang.details);
  }
  assert.ok(hangs.length > 0, 'some seed in 1..20 loses the upcall');
  assert.match(hangs[0]!, /domain 1: vCPU 0 halted with upcall_pending=1 and port 1 \[1\/0\/1\] \(lost interrupt\)/);
  assert.match(hangs[1]!, /\(XEN\)        1 \[1\/0\/  0   \]: s=3 n=0 x=0 d=0 p=1\n/);
});

t.run();
