import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as Lwt from '../../src/guest/lwt.ts';

const L = suite('lwt');
L.before.each(() => Lwt.reset());

L('wakeup runs the callbacks at once, in the order they were added; bind on a resolved promise is queued', () => {
  // lwt.mli wakeup: "callbacks associated with r will be called immediately, deeper on the current stack".
  const out: string[] = [];
  const [p, r] = Lwt.wait<number>();
  Lwt.bind(p, (v) => void out.push(`a${v}`));
  Lwt.map((v) => out.push(`b${v}`), p);
  Lwt.bind(Lwt.return_(1), () => void out.push('c'));
  assert.equal(out, []);
  Lwt.wakeup(r, 7);
  assert.equal(out, ['a7', 'b7']);
  Lwt.run_queue();
  assert.equal(out, ['a7', 'b7', 'c']);
});

L('a promise resolved by a callback runs its own callbacks at once too (Lwt resolve, allow_deferring:false)', () => {
  const out: string[] = [];
  const [p, r] = Lwt.wait<number>();
  const q = Lwt.bind(p, (v) => v + 1);
  Lwt.bind(q, (v) => void out.push(`q${v}`));
  Lwt.wakeup(r, 1);
  assert.equal(out, ['q2']);
  assert.is(Lwt.queue_length(), 0);
});

L('nesting deeper than 42 resolutions goes on the run queue (stack bounded)', () => {
  let p: Lwt.Lwt<number>;
  const [p0, r] = Lwt.wait<number>();
  p = p0;
  for (let i = 0; i < 10_000; i++) p = Lwt.bind(p, (v) => v + 1);
  Lwt.wakeup(r, 0);
  assert.is(p.state(), 'pending');
  assert.ok(Lwt.queue_length() > 0);
  Lwt.run_queue();
  assert.is(p.value(), 10_000);
});

L('catch and fail', () => {
  const p = Lwt.catch_(() => Lwt.fail(new Error('boom')), (e) => Lwt.return_((e as Error).message));
  Lwt.run_queue();
  assert.is(p.value(), 'boom');
  const q = Lwt.bind(Lwt.return_(1), () => {
    throw new Error('x');
  });
  Lwt.run_queue();
  assert.is(q.state(), 'rejected');
});

L('1,000,000 nested binds do not overflow (proxies)', () => {
  const loop = (n: number): Lwt.Lwt<number> => (n === 0 ? Lwt.return_(42) : Lwt.bind(Lwt.return_(n), () => loop(n - 1)));
  const t0 = performance.now();
  const p = loop(1_000_000);
  Lwt.run_queue();
  assert.is(p.value(), 42);
  assert.ok(performance.now() - t0 < 5000);
});

L('a 200k pause loop runs and pause is fair', () => {
  let n = 0;
  const loop = (): Lwt.Lwt<void> => (n === 200_000 ? Lwt.return_unit : Lwt.bind(Lwt.pause(), () => (n++, loop())));
  const p = loop();
  const order: string[] = [];
  const other = (name: string, k: number): Lwt.Lwt<void> =>
    k === 0 ? Lwt.return_unit : Lwt.bind(Lwt.pause(), () => (order.push(name), other(name, k - 1)));
  other('x', 2);
  other('y', 2);
  let rounds = 0;
  while (p.state() === 'pending') {
    Lwt.wakeup_paused();
    Lwt.run_queue();
    rounds++;
  }
  assert.is(n, 200_000);
  assert.is(rounds, 200_000);
  assert.equal(order, ['x', 'y', 'x', 'y']);
});

L('join, all, choose', () => {
  const [a, ra] = Lwt.wait<number>();
  const [b, rb] = Lwt.wait<number>();
  const all = Lwt.all([a, b]);
  const ch = Lwt.choose([a, b]);
  Lwt.wakeup(rb, 2);
  Lwt.run_queue();
  assert.is(ch.value(), 2);
  assert.is(all.state(), 'pending');
  Lwt.wakeup(ra, 1);
  Lwt.run_queue();
  assert.equal(all.value(), [1, 2]);
  const j = Lwt.join([Lwt.return_unit, Lwt.return_unit]);
  Lwt.run_queue();
  assert.is(j.state(), 'fulfilled');
});

L('wakeup_later resolves now but queues the callbacks; double wakeup throws', () => {
  // lwt.ml wakeup_later_general: the state changes at once; lwt.mli lets the
  // callbacks be queued "still before the next time Lwt blocks".
  const [p, r] = Lwt.wait<number>();
  const seen: number[] = [];
  Lwt.on_any(p, (v) => seen.push(v), () => undefined);
  Lwt.wakeup_later(r, 3);
  assert.is(p.state(), 'fulfilled');
  assert.equal(seen, []);
  assert.is(Lwt.queue_length(), 1);
  Lwt.run_queue();
  assert.equal(seen, [3]);
  assert.throws(() => Lwt.wakeup(r, 4), /Lwt.wakeup: promise already resolved/);
  assert.throws(() => Lwt.wakeup_later(r, 4), /Lwt.wakeup_later/);
});

L('Condition: signal wakes one, broadcast all, lossy', () => {
  const c = new Lwt.Condition<number>();
  c.signal(0); // nobody waiting: lost
  const a = c.wait();
  const b = c.wait();
  const d = c.wait();
  c.signal(1);
  Lwt.run_queue();
  assert.is(a.value(), 1);
  assert.is(b.state(), 'pending');
  c.broadcast(2);
  Lwt.run_queue();
  assert.is(b.value(), 2);
  assert.is(d.value(), 2);
});

L('MVar: FIFO takers and putters', () => {
  const m = new Lwt.MVar<number>();
  const t1 = m.take();
  const t2 = m.take();
  m.put(1);
  m.put(2);
  Lwt.run_queue();
  assert.is(t1.value(), 1);
  assert.is(t2.value(), 2);
  const full = new Lwt.MVar(5);
  const p = full.put(6);
  assert.is(p.state(), 'pending');
  assert.is(full.take().value(), 5);
  Lwt.run_queue();
  assert.is(p.state(), 'fulfilled');
  assert.is(full.take().value(), 6);
  assert.ok(full.is_empty());
});

L('await works on a Lwt promise', async () => {
  const [p, r] = Lwt.wait<number>();
  setTimeout(() => {
    Lwt.wakeup(r, 9);
    Lwt.run_queue();
  }, 1);
  assert.is(await p, 9);
  assert.ok(Lwt.native.seen);
});

L.run();
