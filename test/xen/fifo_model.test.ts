// FIFO event channels against a small independent reference model, on random
// op sequences (fast-check, fixed seed).
//
// The model does not know event words, tails, LINK fields or fifo_lastq: it
// keeps each (vCPU, priority) queue as a JS array of the ports that are
// LINKED on it, in order, with per-port P/M/L flags, each vCPU's `ready` and
// upcall_pending, the set of ports whose pending state Xen keeps while they
// have no event word, and the FREE ports (a port closed while LINKED is not
// reused until the guest unlinks it). From the arrays it predicts every event word
// (LINK = the next port in the array, 0 for the last), the ready bits, the
// upcall edges and the order in which a Linux-like consumer
// (test/support/fifo_guest.ts) handles ports. The implementation is driven
// only through dom0's sends and the guest's hypercalls and memory.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FIFO_LINKED, FIFO_MASKED, FIFO_PENDING } from '../../src/abi/evtchn_fifo.ts';
import { XEN_E } from '../../src/abi/xen.ts';
import { FifoConsumer } from '../support/fifo_guest.ts';
import { guest, running, setup } from './_helpers.ts';

const t = suite('fifo model');

/** The guest ports dom0 is bound to at first: five on the first array page, two on the second (added by an op). */
const PORTS = [1, 2, 3, 4, 5, 1025, 1026] as const;
/** The first port never allocated (the rest up to 1026 are IPIs nobody sends to). */
const FIRST_NEW = 1027;
const NV = 2;

type Op =
  | { k: 'send'; i: number }
  | { k: 'mask'; i: number }
  | { k: 'unmask'; i: number } // the guest's clear_masked_cond
  | { k: 'unmaskHc'; i: number } // EVTCHNOP_unmask directly
  | { k: 'prio'; i: number; p: number }
  | { k: 'vcpu'; i: number; v: number }
  | { k: 'upcall'; v: number; send: number } // send: index of a port dom0 sends to while the first event is handled, or -1
  | { k: 'expand' }
  | { k: 'recycle'; i: number }; // the guest closes its end and binds dom0's (now unbound) port again

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('send' as const), i: fc.nat(PORTS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('mask' as const), i: fc.nat(PORTS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('unmask' as const), i: fc.nat(PORTS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unmaskHc' as const), i: fc.nat(PORTS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('prio' as const), i: fc.nat(PORTS.length - 1), p: fc.nat(16) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('vcpu' as const), i: fc.nat(PORTS.length - 1), v: fc.nat(NV - 1) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('upcall' as const), v: fc.nat(NV - 1), send: fc.integer({ min: -1, max: PORTS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('expand' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('recycle' as const), i: fc.nat(PORTS.length - 1) }) },
);

/** The reference model. */
class Model {
  pages = 1;
  readonly P = new Map<number, boolean>();
  readonly M = new Map<number, boolean>();
  readonly L = new Map<number, boolean>();
  readonly prio = new Map<number, number>();
  readonly notify = new Map<number, number>();
  readonly queues = new Map<string, number[]>();
  readonly ready = [0, 0];
  readonly upcall = [0, 0];
  readonly saved = new Set<number>();
  readonly handled: number[][] = [[], []];
  /** FREE ports (closed), and the next port never allocated. */
  readonly free = new Set<number>();
  nextNew = FIRST_NEW;
  /** Every port the ops have touched (the ones check() compares). */
  readonly touched = new Set<number>(PORTS);

  constructor() {
    // A word nobody wrote reads as Linux preset it: MASKED. The first-page ports start unmasked (the guest unmasked them).
    for (const p of PORTS) if (p < 1024) this.M.set(p, false);
  }

  p(port: number): boolean {
    return this.P.get(port) ?? false;
  }

  m(port: number): boolean {
    return this.M.get(port) ?? true;
  }

  l(port: number): boolean {
    return this.L.get(port) ?? false;
  }

  hasWord(p: number): boolean {
    return p < this.pages * 1024;
  }

  queue(v: number, q: number): number[] {
    const k = `${v}:${q}`;
    let a = this.queues.get(k);
    if (!a) this.queues.set(k, (a = []));
    return a;
  }

  setPending(p: number): void {
    if (!this.hasWord(p)) {
      this.saved.add(p);
      return;
    }
    this.P.set(p, true);
    if (this.m(p) || this.l(p)) return;
    this.L.set(p, true);
    const v = this.notify.get(p) ?? 0;
    const q = this.prio.get(p) ?? 7;
    const a = this.queue(v, q);
    a.push(p);
    if (a.length === 1 && (this.ready[v]! & (1 << q)) === 0) {
      this.ready[v]! |= 1 << q;
      if (this.upcall[v] === 0) this.upcall[v] = 1;
    }
  }

  xenUnmask(p: number): void {
    if (!this.hasWord(p)) return;
    this.M.set(p, false);
    if (this.p(p)) this.setPending(p);
  }

  guestUnmask(p: number): void {
    if (!this.m(p)) return;
    if (this.p(p)) this.xenUnmask(p);
    else this.M.set(p, false);
  }

  /** EVTCHNOP_close (free: PENDING cleared, notify back to vCPU 0; LINKED stays), then bind: lowest FREE port not LINKED. */
  recycle(old: number): number {
    if (this.hasWord(old)) this.P.set(old, false);
    this.notify.set(old, 0);
    this.free.add(old);
    const reusable = [...this.free].filter((x) => !this.l(x)).sort((a, b) => a - b);
    const np = reusable[0] ?? this.nextNew++;
    this.free.delete(np);
    this.touched.add(np);
    this.prio.set(np, 7);
    this.notify.set(np, 0);
    this.setPending(np); // bind_interdomain sets the new local port pending
    return np;
  }

  handle(v: number, sendDuring: () => void): void {
    this.upcall[v] = 0;
    let r = this.ready[v]!;
    this.ready[v] = 0;
    let first = true;
    while (r !== 0) {
      const q = 31 - Math.clz32(r & -r);
      const a = this.queue(v, q);
      const p = a.shift();
      if (p === undefined) throw new Error(`model: ready bit ${q} of vCPU ${v} with an empty queue`);
      this.L.set(p, false);
      if (a.length === 0) r &= ~(1 << q);
      if (this.p(p) && !this.m(p)) {
        this.P.set(p, false);
        this.handled[v]!.push(p);
        if (first) {
          first = false;
          sendDuring();
        }
      }
      r |= this.ready[v]!;
      this.ready[v] = 0;
    }
  }

  /** The event word the model predicts. */
  word(p: number): number {
    let link = 0;
    for (const a of this.queues.values()) {
      const i = a.indexOf(p);
      if (i >= 0) link = a[i + 1] ?? 0;
    }
    return ((this.p(p) ? FIFO_PENDING : 0) | (this.m(p) ? FIFO_MASKED : 0) | (this.l(p) ? FIFO_LINKED : 0) | link) >>> 0;
  }
}

function world() {
  const { hv, dom0 } = setup();
  const d = guest(hv, 'fifo', NV);
  const layout = { argGfn: 0, controlGfn: 1, firstArrayGfn: 8 };
  // IF=0 on both vCPUs: upcalls are taken only by the 'upcall' op.
  const c: FifoConsumer[] = [];
  for (const v of d.vcpus) {
    running(v, false);
    c.push(new FifoConsumer(v, layout, undefined, c[0]));
    assert.is(c[v.vcpuId]!.initControl(), 0);
  }
  assert.is(c[0]!.setup(1), 0);
  const remote: number[] = [];
  for (let p = 1; p < FIRST_NEW; p++) {
    if ((PORTS as readonly number[]).includes(p)) {
      assert.is(d.evtchn.allocUnbound(0), p);
      remote.push(dom0.evtchn.bindInterdomain(d.id, p));
    } else {
      assert.is(d.evtchn.bindIpi(0), p);
    }
  }
  for (const p of PORTS) if (p < 1024) c[0]!.unmask(p);
  return { hv, dom0, d, c, remote };
}

function check(m: Model, w: ReturnType<typeof world>, step: string): void {
  const { d, c } = w;
  const fifo = d.evtchn.fifo!;
  for (const p of m.touched) {
    if (m.hasWord(p)) {
      assert.is(fifo.word(p).toString(16), m.word(p).toString(16), `${step}: word of port ${p}`);
    } else {
      assert.is(d.evtchn.isPending(p), false, `${step}: port ${p} has no word: not pending`);
      assert.is(d.evtchn.isMasked(p), true, `${step}: port ${p} has no word: masked`);
    }
  }
  for (let v = 0; v < NV; v++) {
    const cb = new Uint32Array(d.physmap.frame(1 + v), 0, 1);
    assert.is(cb[0], m.ready[v], `${step}: ready of vCPU ${v}`);
    assert.is(d.shared.u8[v * 64], m.upcall[v], `${step}: upcall_pending of vCPU ${v}`);
    assert.equal(c[v]!.handled, m.handled[v], `${step}: ports handled on vCPU ${v}`);
  }
}

function runOps(ops: Op[]): Model {
  const w = world();
  const { dom0, d, c, remote } = w;
  const m = new Model();
  const ports: number[] = [...PORTS];
  const send = (i: number) => dom0.evtchn.send(remote[i]!);
  check(m, w, 'start');
  ops.forEach((o, n) => {
    const port = 'i' in o ? ports[o.i]! : 0;
    switch (o.k) {
      case 'send':
        assert.is(send(o.i), 0);
        m.setPending(port);
        break;
      case 'mask':
        if (!m.hasWord(port)) return;
        c[0]!.mask(port);
        m.M.set(port, true);
        break;
      case 'unmask':
        if (!m.hasWord(port)) return;
        c[0]!.unmask(port);
        m.guestUnmask(port);
        break;
      case 'unmaskHc':
        assert.is(d.evtchn.unmask(port), 0);
        m.xenUnmask(port);
        break;
      case 'prio': {
        const rc = c[0]!.setPriority(port, o.p);
        assert.is(rc, o.p > 15 ? -XEN_E.EINVAL : 0);
        if (rc === 0) m.prio.set(port, o.p);
        break;
      }
      case 'vcpu':
        assert.is(d.evtchn.bindVcpu(port, o.v), 0);
        m.notify.set(port, o.v);
        break;
      case 'upcall': {
        // Linux's upcall: upcall_pending = 0, then the consume loop; the first
        // handler may make dom0 send (Xen appends while the guest walks).
        let first = true;
        c[o.v]!.onEvent = () => {
          if (first && o.send >= 0) send(o.send);
          first = false;
        };
        d.shared.u8[o.v * 64] = 0;
        c[o.v]!.handleEvents();
        m.handle(o.v, () => {
          if (o.send >= 0) m.setPending(ports[o.send]!);
        });
        break;
      }
      case 'expand': {
        if (m.pages >= 2) return;
        assert.is(c[0]!.setup(2047), 0);
        m.pages = 2;
        // The words were preset MASKED; Xen re-raises, in port order, every port
        // pending meanwhile, FREE or not (add_page_to_event_array has no usable check).
        for (const p of [...m.touched].filter((x) => x >= 1024).sort((a, b) => a - b)) {
          m.M.delete(p);
          if (m.saved.has(p)) m.setPending(p);
        }
        break;
      }
      case 'recycle': {
        assert.is(d.evtchn.close(port), 0);
        const np = d.evtchn.bindInterdomain(0, remote[o.i]!);
        assert.is(np, m.recycle(port), 'the port allocation picks');
        ports[o.i] = np;
        if (m.hasWord(np)) {
          c[0]!.unmask(np);
          m.guestUnmask(np);
        }
        break;
      }
    }
    check(m, w, `op ${n} ${JSON.stringify(o)}`);
  });
  return m;
}

t('random op sequences: event words, ready, upcall edges and consumption order match the model', () => {
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    runOps(ops);
  }), { seed: 1313, numRuns: 300 });
});

t('the model is not vacuous: a fixed sequence through every op', () => {
  const ops: Op[] = [
    { k: 'send', i: 0 }, { k: 'send', i: 1 }, { k: 'prio', i: 2, p: 1 }, { k: 'send', i: 2 }, { k: 'send', i: 5 },
    { k: 'upcall', v: 0, send: 0 }, { k: 'mask', i: 3 }, { k: 'send', i: 3 }, { k: 'vcpu', i: 4, v: 1 }, { k: 'send', i: 4 },
    { k: 'expand' }, { k: 'unmask', i: 5 }, { k: 'unmask', i: 3 }, { k: 'upcall', v: 1, send: -1 }, { k: 'upcall', v: 0, send: 6 },
    { k: 'unmaskHc', i: 6 }, { k: 'upcall', v: 0, send: -1 },
  ];
  const m = runOps(ops);
  // 3 (priority 1) before 1 and 2; the re-send of 1 during the first handler
  // coalesces (1 is PENDING and LINKED); 1025 was sent before its page came and
  // is delivered once the guest unmasks it; 1026 sent while masked comes with
  // EVTCHNOP_unmask; 5 moved to vCPU 1.
  assert.equal(m.handled[0], [3, 1, 2, 1025, 4, 1026]);
  assert.equal(m.handled[1], [5]);
});

t.run();
