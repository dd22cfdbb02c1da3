import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Sim, SimThread, WaitQueue, Mutex, waitEvent, sleep, call, yieldNow, Choices, Clock, type Co } from '../../src/sim/index.ts';

const clock = suite('clock');
clock('timers fire in (deadline, seq) order and time jumps only to deadlines', () => {
  const c = new Clock();
  const seen: string[] = [];
  c.at(20, () => seen.push('b'));
  c.at(10, () => seen.push('a'));
  c.at(20, () => seen.push('c'));
  const x = c.at(15, () => seen.push('x'));
  c.cancel(x);
  assert.is(c.pending, 3);
  assert.is(c.nextDeadline(), 10);
  c.advanceTo(20);
  assert.is(c.fireDue(), 3);
  assert.equal(seen, ['a', 'b', 'c']);
  assert.is(c.nextDeadline(), undefined);
});
clock.run();

const choice = suite('choices');
choice('same seed, same answers; sequences replay and default to 0', () => {
  const a = Choices.fromSeed(7), b = Choices.fromSeed(7), c = Choices.fromSeed(8);
  const ra = Array.from({ length: 50 }, () => a.choose(10));
  const rb = Array.from({ length: 50 }, () => b.choose(10));
  const rc = Array.from({ length: 50 }, () => c.choose(10));
  assert.equal(ra, rb);
  assert.not.equal(ra, rc);
  assert.ok(ra.every((v) => v >= 0 && v < 10));
  const s = Choices.fromSequence([3, 9, 1]);
  assert.equal([s.choose(4), s.choose(4), s.choose(4), s.choose(4)], [3, 1, 1, 0]);
  assert.throws(() => Choices.fromSeed(-1), /non-negative/);
});
choice.run();

const threads = suite('sim threads');
threads('wait queues, sleep, named stacks and determinism', () => {
  const runOnce = (seed: number) => {
    const sim = new Sim({ seed });
    const wq = new WaitQueue();
    const log: string[] = [];
    let items = 0;
    function* consumer(): Co {
      for (let i = 0; i < 3; i++) {
        yield* call('consume', waitEvent(wq, () => items > 0));
        items--;
        log.push(`c@${sim.now}`);
      }
    }
    function* producer(name: string): Co {
      for (let i = 0; i < 3; i++) {
        yield* sleep(10);
        items++;
        log.push(`${name}@${sim.now}`);
        wq.wakeAll();
        yield* yieldNow();
      }
    }
    const c = new SimThread(sim, 1, 'consumer', consumer);
    new SimThread(sim, 2, 'p1', () => producer('p1'));
    const r = sim.run();
    assert.is(r.reason, 'idle');
    assert.is(c.state, 'X');
    return log;
  };
  const a = runOnce(1);
  assert.equal(a, runOnce(1));
  assert.is(a.filter((x) => x.startsWith('c')).length, 3);
});

threads('a blocked thread shows its stack and D state; timeouts return false', () => {
  const sim = new Sim({ seed: 3 });
  const wq = new WaitQueue();
  let ok: boolean | undefined;
  const t = new SimThread(sim, 39, 'xenwatch', function* () {
    yield* call('xenwatch_thread', call('kthread_stop', waitEvent(wq, () => false, 'D')));
  });
  const u = new SimThread(sim, 40, 'waiter', function* () {
    ok = yield* waitEvent(wq, () => false, 'S', 1000);
  });
  const r = sim.run();
  assert.is(r.reason, 'idle');
  assert.is(t.state, 'D');
  assert.equal(t.stack(), ['kthread_stop', 'xenwatch_thread', 'kthread', 'ret_from_fork']);
  assert.is(ok, false);
  assert.is(u.state, 'X');
  assert.is(sim.now, 1000);
});

threads('mutex serialises and hands over in FIFO order', () => {
  const sim = new Sim({ seed: 5 });
  const m = new Mutex('xenwatch_mutex');
  const order: string[] = [];
  for (const n of ['a', 'b', 'c']) {
    new SimThread(sim, order.length + 10, n, function* () {
      yield* m.lock();
      order.push(`${n}+`);
      yield* sleep(5);
      order.push(`${n}-`);
      m.unlock();
    });
  }
  sim.run();
  for (let i = 0; i < order.length; i += 2) assert.is(order[i]![0], order[i + 1]![0]);
  assert.is(order.length, 6);
});

threads('oracles stop the run when nothing is runnable', () => {
  const sim = new Sim();
  sim.oracles.push(() => ({ summary: 'stuck', details: '' }));
  new SimThread(sim, 1, 't', function* () { yield* sleep(5); });
  const r = sim.run();
  assert.is(r.reason, 'hang');
  assert.is(sim.now, 0);
});
threads.run();

const until = suite('runUntil');
until('stops as soon as the condition holds, before time advances', () => {
  const sim = new Sim({ seed: 1 });
  let flag = false;
  new SimThread(sim, 1, 'setter', function* () {
    yield* sleep(100);
    flag = true;
  });
  new SimThread(sim, 2, 'later', function* () {
    yield* sleep(5000);
  });
  assert.ok(sim.runUntil(() => flag));
  assert.is(sim.now, 100);
  assert.not.ok(sim.runUntil(() => false));
  assert.is(sim.lastResult?.reason, 'idle');
  assert.is(sim.now, 5000);
});
until.run();

const sched = suite('schedulers and streams');
sched('streams are per name and seed, and drawing from one never shifts the scheduler', () => {
  const a = Choices.derive(5, 'libxl'), b = Choices.derive(5, 'libxl'), c = Choices.derive(5, 'guest-random'), d = Choices.derive(6, 'libxl');
  const draw = (x: Choices) => Array.from({ length: 20 }, () => x.choose(1000));
  const ra = draw(a);
  assert.equal(ra, draw(b));
  assert.not.equal(ra, draw(c));
  assert.not.equal(ra, draw(d));
  // Two runs of the same seed; one draws uuid-like digits from the 'libxl' stream between steps.
  const order = (extra: boolean) => {
    const sim = new Sim({ seed: 3 });
    const log: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      new SimThread(sim, name.charCodeAt(0), name, function* () {
        for (let i = 0; i < 4; i++) {
          log.push(name);
          if (extra) for (let j = 0; j < 31; j++) sim.stream('libxl').choose(16);
          yield* yieldNow();
        }
      });
    }
    sim.run();
    return log.join('');
  };
  assert.is(order(true), order(false));
});

sched('a Scheduler answers every pick and preemption; out-of-range answers fall back to the oldest task', () => {
  const seen: string[] = [];
  const sim = new Sim({
    seed: 1,
    scheduler: {
      preemptive: true,
      preempt: (label, current, cands, n) => {
        seen.push(`point ${label} ${current?.name ?? '-'} ${cands.slice(0, n).map((t) => t.name).join(',')}`);
        return 0;
      },
      pick: (runq, n) => {
        seen.push(`pick ${runq.slice(0, n).map((t) => t.name).join(',')}`);
        return 99;
      },
    },
  });
  const log: string[] = [];
  const top = { name: 'top', queued: false, nestable: false, run: () => { log.push('top'); sim.point('p'); log.push('top end'); } };
  new SimThread(sim, 1, 'x', function* () {
    log.push('x');
  });
  sim.ready(top);
  sim.run();
  // x (the oldest) runs first: pick answered 99, out of range -> 0.
  assert.equal(seen, ['pick x,top']);
  assert.equal(log, ['x', 'top', 'top end']);
  const seen2: string[] = [];
  const sim2 = new Sim({ seed: 1, scheduler: { preemptive: true, preempt: (l, c, cands, n) => (seen2.push(`${l} ${c?.name} ${n}`), 0), pick: () => 1 } });
  const log2: string[] = [];
  new SimThread(sim2, 1, 'x', function* () {
    log2.push('x');
  });
  sim2.ready({ name: 'top', queued: false, nestable: false, run: () => { log2.push('top'); sim2.point('p'); log2.push('top end'); } });
  sim2.run();
  // pick 1 runs top first; at its point, x runs nested (preempt answered 0 = candidate 0).
  assert.equal(seen2, ['p top 1']);
  assert.equal(log2, ['top', 'x', 'top end']);
});
sched.run();
