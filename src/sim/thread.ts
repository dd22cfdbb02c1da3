// Cooperative sim threads, written as generators. dom0's kernel threads
// (xenwatch, xenbus, netback's dealloc thread, ...) are SimThreads: they can
// block in the middle of a call chain (`yield* waitEvent(...)`) and keep a
// named call stack, so `ps` and /proc/PID/stack show what a real dom0 shows.
//
//   function* xenwatchThread(t: SimThread): Co {
//     for (;;) {
//       yield* waitEvent(events.wq, () => events.length > 0);
//       yield* call('frontend_changed', frontendChanged(ev));
//     }
//   }
//
// A thread that is woken while it is running (e.g. from work the simulator ran
// nested at a choice point) keeps the wakeup in `wakePending`, so the Linux
// "set state, test condition, schedule" pattern cannot lose it.

import type { Sim, Task } from './sim.ts';

/** What a sim thread yields to the scheduler. */
export type Op = { readonly kind: 'block'; readonly state: 'S' | 'D' } | { readonly kind: 'yield' };
/** A sim-thread coroutine returning T. */
export type Co<T = void> = Generator<Op, T, unknown>;

const BLOCK_S: Op = { kind: 'block', state: 'S' };
const BLOCK_D: Op = { kind: 'block', state: 'D' };
const YIELD: Op = { kind: 'yield' };

/** Linux task states as `ps` prints them; X = exited. */
export type ThreadState = 'R' | 'S' | 'D' | 'X';

let currentThread: SimThread | undefined;

/** The sim thread whose code is running now (throws outside one). */
export function current(): SimThread {
  if (!currentThread) throw new Error('not inside a sim thread');
  return currentThread;
}

export class SimThread implements Task {
  state: ThreadState = 'R';
  queued = false;
  readonly nestable = true;
  /** Call stack, outermost first (`ret_from_fork`, `kthread`, ...). */
  readonly frames: string[];
  /** Woken while running: do not sleep at the next block. */
  private wakePending = false;
  private readonly gen: Co;
  /** Threads waiting for this one to exit (kthread_stop). */
  readonly exited = new WaitQueue();
  result: unknown;

  constructor(
    readonly sim: Sim,
    readonly pid: number,
    readonly name: string,
    body: (self: SimThread) => Co,
    baseFrames: readonly string[] = ['ret_from_fork', 'kthread'],
    readonly domid = 0,
  ) {
    this.frames = [...baseFrames];
    this.gen = body(this);
    sim.trace.threadName(domid, pid, `[${name}] (pid ${pid})`);
    sim.ready(this);
  }

  get running(): boolean {
    return currentThread === this;
  }

  /** Make a sleeping thread runnable (no-op for an exited one). */
  wake(): void {
    if (this.state === 'X') return;
    if (this.state === 'R') {
      if (this.running) this.wakePending = true;
      return;
    }
    this.state = 'R';
    this.sim.ready(this);
  }

  run(): void {
    if (this.state === 'X') return;
    const prev = currentThread;
    currentThread = this;
    this.wakePending = false;
    try {
      const r = this.gen.next();
      if (r.done) {
        this.state = 'X';
        this.result = r.value;
        this.exited.wakeAll();
        return;
      }
      const op = r.value;
      if (op.kind === 'yield' || this.wakePending) {
        this.sim.ready(this);
      } else {
        this.state = op.state;
        // In Perfetto a thread's track shows where it went to sleep and in
        // which state: a stalled xenwatch is a "D kthread_stop" mark.
        if (this.sim.trace.enabled) this.sim.trace.instant(this.domid, this.pid, `${op.state} ${this.frames[this.frames.length - 1] ?? ''}`, undefined, 'sched');
      }
    } finally {
      currentThread = prev;
    }
  }

  /** /proc/PID/stack style, innermost first. */
  stack(): string[] {
    return [...this.frames].reverse();
  }
}

/**
 * A Linux-like wait queue of sim threads, in arrival order. An array, not a
 * Set: a queue mostly holds zero or one waiter, and a Set that goes 1 → 0 →
 * 1 reallocates its hash table on each delete/add (V8 shrinks it), one of
 * the largest costs of a packet round trip under `ping -f`.
 */
export class WaitQueue {
  private readonly waiters: SimThread[] = [];

  add(t: SimThread): void {
    if (!this.waiters.includes(t)) this.waiters.push(t);
  }

  remove(t: SimThread): void {
    const i = this.waiters.indexOf(t);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  get size(): number {
    return this.waiters.length;
  }

  wakeAll(): void {
    const w = this.waiters;
    if (w.length === 1) w[0]!.wake();
    else if (w.length > 1) for (const t of w.slice()) t.wake();
  }

  wakeOne(): void {
    this.waiters[0]?.wake();
  }
}

/** Give the CPU to other runnable work and continue later. */
export function* yieldNow(): Co {
  yield YIELD;
}

/** Sleep until something calls wake() on this thread. */
export function* schedule(state: 'S' | 'D' = 'S'): Co {
  yield state === 'S' ? BLOCK_S : BLOCK_D;
}

/**
 * wait_event(): sleep on `wq` until `cond()` holds. With `timeoutNs`, returns
 * false if the time ran out first (wait_event_timeout). State D is an
 * uninterruptible sleep, the state `ps` shows for a stalled xenwatch.
 */
export function* waitEvent(wq: WaitQueue, cond: () => boolean, state: 'S' | 'D' = 'S', timeoutNs?: number): Co<boolean> {
  const t = current();
  let timedOut = false;
  const timer = timeoutNs === undefined ? undefined : t.sim.clock.after(timeoutNs, () => {
    timedOut = true;
    t.wake();
  }, `${t.name}: wait timeout`);
  try {
    while (!cond()) {
      if (timedOut) return false;
      wq.add(t);
      yield state === 'S' ? BLOCK_S : BLOCK_D;
      wq.remove(t);
    }
    return true;
  } finally {
    wq.remove(t);
    t.sim.clock.cancel(timer);
  }
}

/** msleep(): sleep for `ns` of virtual time. */
export function* sleep(ns: number): Co {
  const t = current();
  let done = false;
  t.sim.clock.after(ns, () => {
    done = true;
    t.wake();
  }, `${t.name}: sleep`);
  while (!done) yield BLOCK_S;
}

/** Run `body` with `name` pushed on the thread's call stack (for /proc/PID/stack). */
export function* call<T>(name: string, body: Co<T>): Co<T> {
  const t = current();
  t.frames.push(name);
  try {
    return yield* body;
  } finally {
    t.frames.pop();
  }
}

/**
 * A generator function whose every run is a named stack frame (`call(name, …)`),
 * so a driver method is written once and still shows Linux's function name in
 * `/proc/<pid>/stack`:
 *
 *   readonly probe = frame('netback_probe', function* (this: Netback, dev: XenbusDevice): Co { … });
 *
 * The frame is pushed when the body starts and popped when it returns or throws.
 */
export function frame<This, A extends unknown[], T>(name: string, fn: (this: This, ...args: A) => Co<T>): (this: This, ...args: A) => Co<T> {
  return function (this: This, ...args: A): Co<T> {
    return call(name, fn.apply(this, args));
  };
}

/** A sleeping mutex (struct mutex); waiters sleep in D like mutex_lock(). */
export class Mutex {
  owner: SimThread | undefined;
  private readonly wq = new WaitQueue();

  constructor(readonly name: string) {}

  *lock(): Co {
    const t = current();
    if (this.owner === t) throw new Error(`mutex ${this.name}: recursive lock by ${t.name}`);
    yield* call('mutex_lock', waitEvent(this.wq, () => this.owner === undefined, 'D'));
    this.owner = t;
  }

  unlock(): void {
    this.owner = undefined;
    this.wq.wakeOne();
  }

  get locked(): boolean {
    return this.owner !== undefined;
  }
}
