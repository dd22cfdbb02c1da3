import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SHARED_INFO_U32, VIRQ } from '../../src/abi/xen.ts';
import { NS, Sim } from '../../src/sim/index.ts';
import { FakeGuest } from '../support/fake_guest.ts';
import { bitmapList, dumpEvtchn, Hypervisor } from '../../src/xen/index.ts';
import { guest, setup } from './_helpers.ts';

const t = suite('debugkeys');

// docs/architecture.md §4.6, verbatim.
const GOLDEN = `(XEN) 'e' pressed -> dumping event-channel info
(XEN) Event channel information for domain 5:
(XEN) Polling vCPUs: {}
(XEN)     port [p/m/s]
(XEN)        1 [0/0/0]: s=3 n=0 x=0 d=0 p=33
(XEN)        2 [0/0/0]: s=3 n=0 x=0 d=0 p=34
(XEN)        3 [0/0/0]: s=5 n=0 x=0 v=0
(XEN)        4 [1/0/0]: s=3 n=0 x=0 d=0 p=35
`;

/** Domain 5 as a Mirage PVH guest wedged by the buggy unmask (docs/architecture.md §4.1, §4.3). */
function wedgedDomain5() {
  const { sim, hv, dom0 } = setup();
  for (let i = 0; i < 32; i++) dom0.evtchn.bindIpi(0); // dom0 ports 1..32 in use
  const d = guest(hv, 'mirage', 1, 5);
  d.vcpus[0]!.upcallVector = 0x20;
  const store = dom0.evtchn.allocUnbound(0, 5); // libxl: store port, then console port
  const cons = dom0.evtchn.allocUnbound(0, 5);
  const timer = d.evtchn.bindVirq(VIRQ.TIMER, 0);
  const net = d.evtchn.allocUnbound(0); // netfront
  assert.equal([store, cons, timer, net], [1, 2, 3, 4]);
  assert.is(dom0.evtchn.bindInterdomain(5, store), 33);
  assert.is(dom0.evtchn.bindInterdomain(5, cons), 34);
  assert.is(d.evtchn.status(4).valueOf() !== undefined, true);
  // Netfront's port starts masked; netback binds and notifies while it is masked...
  d.evtchn.mask(net);
  const nb = dom0.evtchn.bindInterdomain(5, net);
  assert.is(nb, 35);
  dom0.evtchn.send(nb);
  // ...and the buggy unmask clears the mask without re-raising: [1/0/0].
  d.shared.u32[SHARED_INFO_U32.mask]! &= ~(1 << net);
  return { sim, hv, dom0, d };
}

t("golden: the 'e' dump of domain 5 (docs/architecture.md §4.6)", () => {
  const { hv, d } = wedgedDomain5();
  assert.is(dumpEvtchn([d]), GOLDEN);
  const all = hv.debugKey('e');
  assert.ok(all.startsWith("(XEN) 'e' pressed -> dumping event-channel info\n(XEN) Event channel information for domain 0:\n"));
  assert.ok(all.endsWith(GOLDEN.split('\n').slice(1).join('\n')), 'domain 5 after domain 0');
  // dom0's end of netfront's channel: pending since the send, no demux has run yet.
  assert.ok(all.includes('(XEN)       35 [0/0/1]: s=3 n=0 x=0 d=5 p=4\n') || all.includes('(XEN)       35 [1/0/1]: s=3 n=0 x=0 d=5 p=4\n'));
  assert.is(hv.debugKey('Z'), '', 'a key without a handler prints nothing');
});

t('before netback binds, port 4 reads s=2 n=0 x=0 d=0', () => {
  const { hv } = setup();
  const d = guest(hv, 'm', 1, 5);
  d.evtchn.allocUnbound(0);
  assert.match(dumpEvtchn([d]), /\(XEN\)        1 \[0\/0\/0\]: s=2 n=0 x=0 d=0\n/);
});

t('bitmap lists as %*pbl prints them', () => {
  assert.is(bitmapList(0), '');
  assert.is(bitmapList(0b11), '0-1');
  assert.is(bitmapList(0b101), '0,2');
  assert.is(bitmapList(0b1110101), '0,2,4-6');
});

t('the hang oracle reports the wedged port [1/0/0] of a halted vCPU', () => {
  const { sim, hv, d } = wedgedDomain5();
  const v = d.vcpus[0]!;
  v.state = 'halted';
  const r = sim.run();
  assert.is(r.reason, 'hang');
  if (r.reason !== 'hang') return;
  assert.is(r.hang.summary, 'domain 5: vCPU 0 halted with port 4 [1/0/0] (wedged: pending, unmasked, selector clear)');
  assert.ok(r.hang.details.includes(GOLDEN.split('\n').slice(1).join('\n')));
  assert.match(hv.quiescentReport(), /d5 mirage \[-b----\]: v0=halted/);
});

/** Two fake guests ping-pong; returns the trace JSON and what happened. */
function pingPong(seed: number, racy = false) {
  const sim = new Sim({ seed, trace: true });
  const hv = new Hypervisor(sim);
  hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 1024, vcpus: 1, host: true });
  const a = hv.createDomain({ name: 'a', memKiB: 256, vcpus: 1 });
  const b = hv.createDomain({ name: 'b', memKiB: 256, vcpus: 1 });
  const pa = a.evtchn.allocUnbound(b.id);
  let n = 0;
  let pb = -1;
  const ga = new FakeGuest(a.vcpus[0]!, {
    start: (g) => { g.bindVirq(VIRQ.TIMER); g.setTimer(sim.now + NS.ms); },
    event: (g, port) => { if (port === pa && ++n < 20) g.send(pa); },
  }, { racyBlock: racy });
  const gb = new FakeGuest(b.vcpus[0]!, {
    start: (g) => { pb = g.bindInterdomain(a.id, pa); },
    // In callback mode the demux runs in the handler, so the bind's own event
    // can arrive before bindInterdomain has returned the port number.
    event: (g, port) => { if (pb < 0 || port === pb) g.send(port); },
  }, { upcall: 'callback', racyBlock: racy });
  a.vcpus[0]!.start(ga);
  b.vcpus[0]!.start(gb);
  const r = sim.run({ until: NS.s });
  return { json: sim.trace.toJSON(), n, r, hv };
}

t('determinism: the same seed gives a byte-identical trace; the fixed guests never hang', () => {
  const x = pingPong(7);
  const y = pingPong(7);
  assert.is(x.json, y.json);
  assert.is(x.n, 20);
  assert.is(x.r.reason, 'idle');
  assert.match(x.json, /"ph":"s"/);
  assert.match(x.json, /"ph":"f"/);
  for (let seed = 0; seed < 30; seed++) {
    const z = pingPong(seed);
    assert.is(z.r.reason, 'idle', `seed ${seed}`);
    assert.is(z.n, 20, `seed ${seed}`);
    assert.equal(z.hv.internalErrors, []);
  }
});

t.run();
