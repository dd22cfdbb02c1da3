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

export interface SimOptions {
  seed?: number;
  /** Replay/shrink: the answers to choose(), instead of a seed. */
  choices?: readonly number[];
  trace?: boolean;
  /** At a choice point with ready nestable work, preempt with probability 1/n (0 = never). */
  preemptOneIn?: number;
}

export class Sim {
  readonly clock = new Clock();
  readonly choices: Choices;
  readonly trace: Trace;
  readonly oracles: Oracle[] = [];
  preemptOneIn: number;
  steps = 0;
  // The run queue and the running stack are arrays with explicit lengths that
  // never shrink: push/pop on a 0 <-> 1 element array makes V8 trim and
  // reallocate its backing store at every step.
  private readonly runq: Task[] = [];
  private nq = 0;
  private readonly running: Task[] = [];
  private nrunning = 0;
  private stopWhy: string | undefined;

  constructor(opts: SimOptions = {}) {
    this.choices = opts.choices ? Choices.fromSequence(opts.choices) : Choices.fromSeed(opts.seed ?? 0);
    this.trace = new Trace(opts.trace ?? false, () => this.clock.now);
    this.preemptOneIn = opts.preemptOneIn ?? 2;
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
  point(_label: string): void {
    if (this.nq === 0 || this.preemptOneIn === 0 || this.nrunning > 8) return;
    let n = 0;
    for (let i = 0; i < this.nq; i++) {
      const t = this.runq[i]!;
      if (t.nestable && !this.isRunning(t)) n++;
    }
    if (n === 0 || !this.choices.oneIn(this.preemptOneIn)) return;
    let k = this.choices.choose(n);
    for (let i = 0; i < this.nq; i++) {
      const t = this.runq[i]!;
      if (!t.nestable || this.isRunning(t)) continue;
      if (k-- === 0) {
        this.removeAt(i);
        t.queued = false;
        this.exec(t);
        return;
      }
    }
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
        const i = this.nq === 1 ? 0 : this.choices.choose(this.nq);
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
