// The deterministic simulator: one virtual clock, one choice source, one run
// queue. Everything that runs (a guest vCPU, a dom0 kernel thread, deferred
// hypervisor work) is a Task on the run queue; which ready task runs next is a
// choice, so the seed decides the interleaving and nothing else does.
//
// Choice points: code that stands for an instruction boundary that matters (a
// hypercall, cli/sti/hlt, a guest access to shared memory) calls point(). The
// simulator may then first run another ready *nestable* task (dom0 threads,
// deferred work), synchronously, as if it ran on another CPU at that instant.
// Guest vCPUs are not nestable: they run only from the top-level loop.
//
// Virtual time advances only when the run queue is empty; before advancing,
// the oracles look for a hang (every vCPU halted while work is outstanding).
//
// Who decides: a Scheduler answers the two kinds of scheduling decision (a
// preemption at a choice point, the next task at top level). The default one
// draws from the seed (RandomScheduler, below); `xenode explore` plugs in its
// own (recording, replaying, PCT, swarm: src/machine/explore/). Everything
// else that wants randomness (libxl's uuids, a guest's Math.random seed, a
// workload's pauses) takes its own stream, `sim.stream(name)`, derived from
// the seed, so the scheduler's answers are the only thing a strategy controls
// and a shrinker removes.

import { Choices } from './choice.ts';
import { Clock } from './clock.ts';
import { Trace } from './trace.ts';

export interface Task {
  readonly name: string;
  /** True while on the run queue (set and cleared by the Sim). */
  queued: boolean;
  /** May run nested at another task's choice point. */
  readonly nestable: boolean;
  run(): void;
}

/** What an oracle reports when the system cannot make progress. */
export interface Hang {
  /** One line, e.g. "domain 1: vCPU 0 halted with port 4 [1/0/0]". */
  summary: string;
  /** Multi-line detail, e.g. the (XEN) 'e' dump. */
  details: string;
}

export type Oracle = () => Hang | undefined;

export interface RunOptions {
  /** Stop when virtual time would pass this (ns, absolute). */
  until?: number;
  /** Stop after this many top-level task steps. */
  maxSteps?: number;
}

export type RunResult =
  | { reason: 'idle' }
  | { reason: 'until' }
  | { reason: 'steps' }
  | { reason: 'stopped'; why: string }
  | { reason: 'hang'; hang: Hang };

/** Answers the simulator's scheduling decisions (see the header). */
export interface Scheduler {
  /**
   * At choice point `label`, with `n` ready nestable tasks in `cands[0..n)`
   * (run-queue order) and `current` running: the index of the task to run
   * nested now, or -1 to let `current` go on.
   */
  preempt(label: string, current: Task | undefined, cands: readonly Task[], n: number): number;
  /** At top level, with `n` >= 2 ready tasks in `runq[0..n)` (FIFO order): the index to run next. */
  pick(runq: readonly Task[], n: number): number;
  /** False: never preempts (point() returns at once, the hot path). Read once, when the Sim is made. */
  readonly preemptive: boolean;
}

/** Today's default: preempt with probability 1/preemptOneIn, then a uniform candidate; a uniform top-level pick. */
export class RandomScheduler implements Scheduler {
  readonly preemptive: boolean;
  constructor(
    readonly choices: Choices,
    readonly preemptOneIn: number,
  ) {
    this.preemptive = preemptOneIn > 0;
  }

  preempt(_label: string, _current: Task | undefined, _cands: readonly Task[], n: number): number {
    return this.choices.oneIn(this.preemptOneIn) ? this.choices.choose(n) : -1;
  }

  pick(_runq: readonly Task[], n: number): number {
    return this.choices.choose(n);
  }
}

export interface SimOptions {
  /** Root seed: the default scheduler's stream and every sim.stream() derive from it. */
  seed?: number;
  /** Replay/shrink: the answers to the default scheduler's choose(), instead of the seed's. */
  choices?: readonly number[];
  trace?: boolean;
  /**
   * Default scheduler: at a choice point with ready nestable work, preempt
   * with probability 1/n (0 = never; default 2). Ignored with `scheduler`.
   */
  preemptOneIn?: number;
  /** Who answers scheduling decisions (default: a RandomScheduler on the seed). */
  scheduler?: Scheduler;
}

export class Sim {
  readonly clock = new Clock();
  readonly seed: number;
  readonly scheduler: Scheduler;
  readonly trace: Trace;
  readonly oracles: Oracle[] = [];
  steps = 0;
  // The run queue and the running stack are arrays with explicit lengths that
  // never shrink: push/pop on a 0 <-> 1 element array makes V8 trim and
  // reallocate its backing store at every step.
  private readonly runq: Task[] = [];
  private nq = 0;
  private readonly running: Task[] = [];
  private nrunning = 0;
  // point()'s candidates, reused (no allocation on the hot path).
  private readonly cands: Task[] = [];
  private readonly candAt: number[] = [];
  // scheduler.preemptive, read once (point() is the hot path).
  private readonly preemptive: boolean;
  private stopWhy: string | undefined;
  private readonly streams = new Map<string, Choices>();

  constructor(opts: SimOptions = {}) {
    this.seed = opts.seed ?? 0;
    if (!Number.isSafeInteger(this.seed) || this.seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${this.seed}`);
    this.scheduler =
      opts.scheduler ??
      new RandomScheduler(opts.choices ? Choices.fromSequence(opts.choices) : Choices.fromSeed(this.seed), opts.preemptOneIn ?? 2);
    this.preemptive = this.scheduler.preemptive;
    this.trace = new Trace(opts.trace ?? false, () => this.clock.now);
  }

  /** A subsystem's own random stream (one per name, derived from the seed; see Choices.derive). */
  stream(name: string): Choices {
    let c = this.streams.get(name);
    if (!c) this.streams.set(name, (c = Choices.derive(this.seed, name)));
    return c;
  }

  get now(): number {
    return this.clock.now;
  }

  /** The task running at top level or nested, innermost. */
  get current(): Task | undefined {
    return this.nrunning > 0 ? this.running[this.nrunning - 1] : undefined;
  }

  /** Put a task on the run queue (idempotent). */
  ready(task: Task): void {
    if (task.queued) return;
    task.queued = true;
    this.runq[this.nq++] = task;
  }

  get runnable(): number {
    return this.nq;
  }

  /** Ask the main loop to return at the next step. */
  stop(why: string): void {
    this.stopWhy ??= why;
  }

  /** A choice point (see the header). `label` names the instruction boundary. */
  point(label: string): void {
    if (this.nq === 0 || !this.preemptive || this.nrunning > 8) return;
    const cands = this.cands;
    const at = this.candAt;
    let n = 0;
    for (let i = 0; i < this.nq; i++) {
      const t = this.runq[i]!;
      if (t.nestable && !this.isRunning(t)) {
        cands[n] = t;
        at[n++] = i;
      }
    }
    if (n === 0) return;
    const k = this.scheduler.preempt(label, this.nrunning > 0 ? this.running[this.nrunning - 1] : undefined, cands, n);
    if (!(k >= 0 && k < n)) return;
    // cands keeps stale references past n until overwritten: at most the
    // longest run queue seen, and clearing them costs on every point.
    const t = this.removeAt(at[k]!);
    t.queued = false;
    this.exec(t);
  }

  /** Run until idle, a hang, a stop, or a limit. */
  run(opts: RunOptions = {}): RunResult {
    const maxSteps = opts.maxSteps ?? Infinity;
    let steps = 0;
    for (;;) {
      if (this.stopWhy !== undefined) {
        const why = this.stopWhy;
        this.stopWhy = undefined;
        return { reason: 'stopped', why };
      }
      // Checked before time may advance, so a caller stepping one task at a
      // time (runUntil) sees its condition before the clock moves on.
      if (steps >= maxSteps) return { reason: 'steps' };
      if (this.nq > 0) {
        let i = this.nq === 1 ? 0 : this.scheduler.pick(this.runq, this.nq);
        if (!(i >= 0 && i < this.nq)) i = 0;
        const t = this.removeAt(i);
        t.queued = false;
        this.exec(t);
        steps++;
        this.steps++;
        continue;
      }
      for (const oracle of this.oracles) {
        const hang = oracle();
        if (hang) return { reason: 'hang', hang };
      }
      const next = this.clock.nextDeadline();
      if (next === undefined) return { reason: 'idle' };
      if (opts.until !== undefined && next > opts.until) {
        this.clock.advanceTo(opts.until);
        return { reason: 'until' };
      }
      this.clock.advanceTo(next);
      this.clock.fireDue();
    }
  }

  /** The result that ended the last runUntil() that returned false. */
  lastResult: RunResult | undefined;

  /** Run until `cond()` holds (checked after every step); false if the run ended first. */
  runUntil(cond: () => boolean, opts: RunOptions = {}): boolean {
    for (;;) {
      if (cond()) return true;
      const r = this.run({ ...opts, maxSteps: 1 });
      if (r.reason !== 'steps') {
        this.lastResult = r;
        return cond();
      }
    }
  }

  /** Remove and return runq[i], keeping the order of the others (as splice did). */
  private removeAt(i: number): Task {
    const q = this.runq;
    const t = q[i]!;
    const n = --this.nq;
    for (let j = i; j < n; j++) q[j] = q[j + 1]!;
    q[n] = undefined as unknown as Task;
    return t;
  }

  private isRunning(t: Task): boolean {
    for (let i = 0; i < this.nrunning; i++) if (this.running[i] === t) return true;
    return false;
  }

  private exec(t: Task): void {
    this.running[this.nrunning++] = t;
    try {
      t.run();
    } finally {
      this.running[--this.nrunning] = undefined as unknown as Task;
    }
  }
}
