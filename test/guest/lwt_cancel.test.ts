// Lwt cancellation in src/guest/lwt.ts, one rule at a time, each against what
// ocsigen/lwt src/core/lwt.mli documents (quoted in the test names or beside
// the assertion).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GuestDoors } from '../../src/abi/doors.ts';
import * as Lwt from '../../src/guest/lwt.ts';
import { Activations } from '../../src/guest/activations.ts';
import type { Evtchn } from '../../src/guest/evtchn.ts';
import { Time } from '../../src/guest/time.ts';

const C = suite('lwt cancellation');
C.before.each(() => Lwt.reset());

function error(p: Lwt.Lwt<unknown>): unknown {
  assert.is(p.state(), 'rejected');
  try {
    p.value();
  } catch (e) {
    return e;
  }
  throw new Error('unreachable');
}

C('task is cancelable, wait is not ("Lwt.wait and Lwt.no_cancel create promises that are not cancelable")', () => {
  const [t, rt] = Lwt.task<number>();
  const [w] = Lwt.wait<number>();
  Lwt.cancel(t);
  Lwt.cancel(w);
  assert.instance(error(t), Lwt.Canceled);
  assert.ok(Lwt.is_canceled(t));
  assert.is(w.state(), 'pending');
  // "If the promise is canceled, [wakeup_later] has no effect."
  Lwt.wakeup(rt, 1);
  Lwt.wakeup_later(rt, 2);
  assert.ok(Lwt.is_canceled(t));
  // "If [p] is already resolved, Lwt.cancel does nothing."
  const done = Lwt.return_(3);
  Lwt.cancel(done);
  assert.is(done.value(), 3);
});

C('cancel searches backwards through bind and map, then rejection propagates forwards', () => {
  const [t] = Lwt.task<number>();
  let called = false;
  const p2 = Lwt.bind(t, (v) => {
    called = true;
    return v;
  });
  const p3 = Lwt.map((v) => v + 1, p2);
  Lwt.cancel(p3);
  // The sleep example of lwt.mli: the initial promise is canceled, the printl never starts.
  assert.ok(Lwt.is_canceled(t));
  assert.ok(Lwt.is_canceled(p2));
  assert.ok(Lwt.is_canceled(p3));
  assert.not.ok(called);
});

C('after the bind function ran, cancelling its output cancels the promise the function returned', () => {
  const [t1, r1] = Lwt.task<number>();
  const [t2] = Lwt.task<number>();
  const p = Lwt.bind(t1, () => t2);
  Lwt.wakeup(r1, 1);
  Lwt.cancel(p);
  assert.is(t1.value(), 1);
  assert.ok(Lwt.is_canceled(t2));
  assert.ok(Lwt.is_canceled(p));
});

C('a wait promise stops the search; so does a native Promise', () => {
  const [w] = Lwt.wait<number>();
  const p = Lwt.bind(w, (v) => v);
  Lwt.cancel(p);
  assert.is(p.state(), 'pending');
  const n = Lwt.of_promise(new Promise<number>(() => undefined));
  Lwt.cancel(n);
  assert.is(n.state(), 'pending');
});

C('catch_ sees Canceled like any rejection; wrap turns an exception into a rejection', () => {
  const [t] = Lwt.task<number>();
  const c = Lwt.catch_(
    () => t,
    (e) => (e instanceof Lwt.Canceled ? -1 : -2),
  );
  Lwt.cancel(c); // propagates to t through the catch (Propagate_cancel_to_one)
  assert.ok(Lwt.is_canceled(t));
  Lwt.run_queue();
  assert.is(c.value(), -1);
  const w = Lwt.wrap(() => {
    throw new Error('boom');
  });
  assert.is((error(w) as Error).message, 'boom');
  assert.is(Lwt.wrap(() => 5).value(), 5);
});

C('on_cancel runs before the other callbacks, at once if already canceled, never on another rejection', () => {
  const order: string[] = [];
  const [t] = Lwt.task<number>();
  Lwt.on_any(t, () => order.push('ok'), () => order.push('rejected'));
  Lwt.on_cancel(t, () => order.push('on_cancel'));
  Lwt.cancel(t);
  // "Callbacks scheduled with on_cancel are guaranteed to run before any other callbacks that are triggered by rejection"
  assert.equal(order, ['on_cancel', 'rejected']);
  Lwt.on_cancel(t, () => order.push('late'));
  assert.equal(order, ['on_cancel', 'rejected', 'late']);
  const [u, ru] = Lwt.wait<number>();
  Lwt.on_cancel(u, () => order.push('never'));
  Lwt.wakeup_exn(ru, new Error('other'));
  assert.not.ok(order.includes('never'));
  // "manually rejecting a promise with Canceled is sufficient to trigger f"
  const [v, rv] = Lwt.wait<number>();
  Lwt.on_cancel(v, () => order.push('manual'));
  Lwt.wakeup_exn(rv, Lwt.CANCELED);
  assert.is(order[order.length - 1], 'manual');
});

C('an exception in an on_cancel callback goes to the async exception hook', () => {
  const seen: unknown[] = [];
  const saved = Lwt.hooks.async_exception;
  Lwt.hooks.async_exception = (e) => void seen.push(e);
  try {
    const [t] = Lwt.task<number>();
    Lwt.on_cancel(t, () => {
      throw new Error('in on_cancel');
    });
    Lwt.cancel(t);
    assert.is((seen[0] as Error).message, 'in on_cancel');
    assert.ok(Lwt.is_canceled(t));
  } finally {
    Lwt.hooks.async_exception = saved;
  }
});

C('protected: cancelling the copy stops there; the original stays pending and can still be canceled', () => {
  const [t, rt] = Lwt.task<number>();
  const p = Lwt.protected_(t);
  const q = Lwt.bind(p, (v) => v * 2);
  Lwt.cancel(q);
  // "Lwt.cancel (protected p) does not cancel p."
  assert.ok(Lwt.is_canceled(p));
  assert.ok(Lwt.is_canceled(q));
  assert.is(t.state(), 'pending');
  Lwt.wakeup(rt, 4);
  assert.is(t.value(), 4);
  assert.ok(Lwt.is_canceled(p), 'a canceled copy stays canceled');
  // Uncanceled, the copy follows the original.
  const [t2, r2] = Lwt.task<number>();
  const p2 = Lwt.protected_(t2);
  Lwt.wakeup(r2, 7);
  assert.is(p2.value(), 7);
  // "The promise p can still be canceled directly"
  const [t3] = Lwt.task<number>();
  const p3 = Lwt.protected_(t3);
  Lwt.cancel(t3);
  assert.ok(Lwt.is_canceled(p3));
  // A resolved promise is its own protected copy.
  const r = Lwt.return_(1);
  assert.is(Lwt.protected_(r), r);
});

C('no_cancel: cancelling through it does nothing, but a canceled original shows through', () => {
  const [t] = Lwt.task<number>();
  const n = Lwt.no_cancel(t);
  Lwt.cancel(n);
  assert.is(t.state(), 'pending');
  assert.is(n.state(), 'pending');
  Lwt.cancel(t);
  assert.ok(Lwt.is_canceled(n));
});

C('pick cancels the losers when one resolves; choose does not', () => {
  const [a, ra] = Lwt.task<number>();
  const [b] = Lwt.task<number>();
  const pk = Lwt.pick([a, b]);
  Lwt.wakeup(ra, 1);
  assert.is(pk.value(), 1);
  assert.ok(Lwt.is_canceled(b));
  const [c, rc] = Lwt.task<number>();
  const [d] = Lwt.task<number>();
  const ch = Lwt.choose([c, d]);
  Lwt.wakeup(rc, 2);
  assert.is(ch.value(), 2);
  assert.is(d.state(), 'pending');
});

C('pick over already resolved promises cancels the pending ones; a rejected one wins', () => {
  const [a] = Lwt.task<number>();
  const p = Lwt.pick([a, Lwt.return_(1), Lwt.return_(2)]);
  assert.is(p.value(), 1);
  assert.ok(Lwt.is_canceled(a));
  // "if at least one of the promises is rejected, the result promise p is rejected"
  const q = Lwt.choose([Lwt.return_(1), Lwt.fail(new Error('x'))]);
  assert.is((error(q) as Error).message, 'x');
  assert.throws(() => Lwt.pick([]), /pending forever/);
  assert.throws(() => Lwt.choose([]), /pending forever/);
});

C('cancelling the result of choose, pick or join cancels each promise in the list', () => {
  const join = (ps: Lwt.Lwt<void>[]) => Lwt.join(ps);
  for (const combine of [Lwt.choose, Lwt.pick, join] as const) {
    const [a] = Lwt.task<void>();
    const [b] = Lwt.task<void>();
    const [w] = Lwt.wait<void>();
    const r = combine([a, b, w]);
    Lwt.cancel(r);
    assert.ok(Lwt.is_canceled(a));
    assert.ok(Lwt.is_canceled(b));
    assert.is(w.state(), 'pending');
    if (combine !== join) assert.ok(Lwt.is_canceled(r));
    else assert.is(r.state(), 'pending'); // join waits for all, and w is not cancelable
  }
});

C('choose and pick leave no callback on a loser (a stop signal raced a million times stays small)', () => {
  const [stop, rstop] = Lwt.wait<number>();
  for (let i = 0; i < 1000; i++) {
    const [ev, rev] = Lwt.task<number>();
    const r = Lwt.choose([ev, stop]);
    Lwt.wakeup(rev, i);
    assert.is(r.value(), i);
  }
  assert.is(stop.cb, undefined);
  assert.ok(stop.cbs === undefined || stop.cbs.length === 0);
  const last = Lwt.pick([Lwt.task<number>()[0], stop]);
  Lwt.wakeup(rstop, -1);
  assert.is(last.value(), -1);
});

C('finalize runs its cleanup on fulfilment, rejection and cancellation', () => {
  const log: string[] = [];
  const ok = Lwt.finalize(() => Lwt.return_(1), () => void log.push('f1'));
  const [t] = Lwt.task<number>();
  const canceled = Lwt.finalize(() => t, () => void log.push('f2'));
  Lwt.cancel(canceled);
  Lwt.run_queue();
  assert.is(ok.value(), 1);
  assert.ok(Lwt.is_canceled(canceled));
  assert.equal(log.sort(), ['f1', 'f2']);
});

C('pause is cancelable; a canceled pause is skipped by wakeup_paused', () => {
  const a = Lwt.pause();
  const b = Lwt.pause();
  Lwt.cancel(a);
  assert.is(Lwt.paused_count(), 2); // as lwt.ml: the count drops at the next wakeup_paused
  Lwt.wakeup_paused();
  assert.ok(Lwt.is_canceled(a));
  assert.is(b.state(), 'fulfilled');
  assert.is(Lwt.paused_count(), 0);
});

C('Condition: a canceled waiter is removed, so signal wakes the next one', () => {
  const c = new Lwt.Condition<number>();
  const a = c.wait();
  const b = c.wait();
  Lwt.cancel(a);
  assert.is(c.waiting, 1);
  c.signal(5);
  Lwt.run_queue();
  assert.is(b.value(), 5);
});

C('Time.sleep_ns is a task: cancelling it drops its timer; a sleep-0 loop does not starve restart_threads', () => {
  let now = 0;
  const si = new ArrayBuffer(4096);
  const time = new Time({ frame: () => si, rdtsc: () => now } as unknown as GuestDoors, 5);
  const s1 = time.sleep_ns(1000);
  const s2 = time.sleep_ns(2000);
  const first = Lwt.pick([s1, s2]);
  now = 1000;
  time.restart_threads(now);
  Lwt.run_queue();
  assert.is(first.state(), 'fulfilled');
  assert.ok(Lwt.is_canceled(s2));
  assert.is(time.next_deadline(), undefined, 'the loser timer is gone');
  let spins = 0;
  const loop = (): Lwt.Lwt<void> => time.sleep_ns(0).bind_(() => (++spins < 1e6 ? loop() : Lwt.return_unit));
  loop();
  assert.is(time.restart_threads(now), 1, 'one timer per pass');
  Lwt.run_queue();
  assert.is(spins, 1);
});

C('Activations.after is a task: a canceled wait is dropped, and the next event wakes only the live ones', () => {
  const ev = { found: [] as number[], nfound: 0, test_and_clear: () => true } as unknown as Evtchn;
  const act = new Activations(ev);
  const event = (port: number) => {
    ev.found = [port];
    ev.nfound = 1;
    act.run();
  };
  // A thread racing the port against a stop signal, losing 1000 times (Lwt.pick cancels the wait on the port).
  for (let i = 0; i < 1000; i++) {
    const [s] = Lwt.task<number>();
    const r = Lwt.pick([act.after(3, 0), s]);
    Lwt.cancel(s);
    assert.ok(Lwt.is_canceled(r));
  }
  const live = act.after(3, 0);
  assert.ok((act as unknown as { afterN: Uint32Array }).afterN[3]! <= 4, 'canceled waits are compacted away');
  event(3);
  Lwt.run_queue();
  assert.is(live.value(), 1);
});

C.run();
