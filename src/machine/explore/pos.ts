// POS, partial-order sampling (Yuan, Yang, Gu: "Partial Order Aware
// Concurrency Sampling", CAV 2018), its BasicPOS form: every *event* (the
// next step of one task) gets a random priority when it becomes enabled and
// keeps it until it runs; at each decision the enabled event with the highest
// priority runs.
//
// What maps to what in the simulator (src/sim/sim.ts):
//   event          one task's next step: for the task at a choice point, from
//                  this point to its next one ("the current task goes on");
//                  for a ready task, its next run (nested at a point, or at top level);
//   enabled        the current task's step at every point (a fresh event, so a
//                  fresh priority each time: it is a new instruction); a ready
//                  task's run from the first decision that sees it on the run
//                  queue until it runs;
//   schedule       point: a candidate preempts iff its event outranks the current
//                  task's; pick: the ready task whose event ranks highest.
//
// Why not PCT's task priorities: a task that is passed over keeps its event's
// priority, so the delay before dom0's ready work runs is drawn afresh per
// event with P(delay > t) = 1/(t+1) (a uniform priority against a fresh
// uniform draw per step): every window between two guest steps gets a
// chance, late ones too, where the random walk's geometric ½ delay almost
// never reaches the 15th point of a loop iteration and PCT's d-1 change points
// hit one of ~44 windows in ~900 decisions (BENCHMARKS.md, explore).
//
// Not done: the paper's full POS also re-draws the priority of every enabled
// event that *races* with the one just run (same shared object, one a write).
// A choice point names an instruction boundary, not its read/write set, and a
// dom0 task's run touches any of event-channel state, rings and xenstore: a
// conservative "everything races" re-draws every priority at every decision,
// a uniform choice among the enabled events (with one candidate, the random
// walk's coin). So `pos` is BasicPOS.
//
// Known approximation: a task that runs alone at top level (no decision: the
// Sim only asks when two or more are ready) and is queued again before any
// decision sees it running keeps the priority of its previous event.
import { Choices, type Task } from '../../sim/index.ts';
import type { Strategy } from './control.ts';
import { highestAbove } from './priority.ts';

export class PosStrategy implements Strategy {
  private readonly ch: Choices;
  /** Priority of each ready task's pending event (its next run). */
  private readonly prio = new Map<Task, number>();

  constructor(seed: number) {
    this.ch = Choices.fromSeed(seed);
  }

  /** The priority of `t`'s pending run, if one was drawn and it has not run since (tests). */
  priorityOf(t: Task): number | undefined {
    return this.prio.get(t);
  }

  private p(t: Task): number {
    let v = this.prio.get(t);
    if (v === undefined) {
      v = this.ch.float();
      this.prio.set(t, v);
    }
    return v;
  }

  point(_step: number, _label: string, current: Task | undefined, cands: readonly Task[], n: number): number {
    // The current task is running: whatever run of it was pending has happened.
    if (current) this.prio.delete(current);
    const at = 1 + highestAbove(cands, n, (t) => this.p(t), this.ch.float());
    if (at > 0) this.prio.delete(cands[at - 1]!);
    return at;
  }

  pick(_step: number, runq: readonly Task[], n: number): number {
    const at = Math.max(0, highestAbove(runq, n, (t) => this.p(t), -1));
    this.prio.delete(runq[at]!);
    return at;
  }
}
