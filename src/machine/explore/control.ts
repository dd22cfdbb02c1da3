// The scheduler `xenode explore` hands a target: every decision the
// simulator asks (a preemption at a choice point, the next task at top level)
// is answered by a Strategy and recorded as (kind, label, options, answer).
//
// Answers are normalised so that 0 is always "what an unperturbed machine
// does", which is what replaying and shrinking fall back to:
//   point: 0 = the current task goes on; k (1..n) = run candidate k-1 nested now
//          (n candidates, so n+1 options);
//   pick:  the index in the run queue (FIFO order), 0 = the oldest ready task.
//
// A schedule is then its deviations, the decisions answered otherwise, each
// named so that it survives the removal of an earlier one:
//   [label, who, occurrence, chosen]
//   point: "the 5th time d1v0 passes 'hypercall', run ring-producer-1 nested";
//   pick:  "the 3rd time d1v0 is the oldest ready task, run ring-producer-1".
// Absolute decision numbers would not do: dropping one preemption shifts
// every later decision, so the rest of a shrunk schedule would land on the
// wrong boundaries and ddmin would stall in a local minimum. Replaying
// answers 0 everywhere else, and when the named task is not a candidate
// there (the run took another path), also 0, so any subset of a schedule's
// deviations still runs: that is what the shrinker removes.
import type { Scheduler, Task } from '../../sim/index.ts';
import { fnv1a } from './target.ts';

export type DecisionKind = 'point' | 'pick';

/** One scheduling decision of a run. */
export interface Decision {
  kind: DecisionKind;
  /** The choice point's label ('hlt', 'block:check upcall_pending', ...), or 'pick'. */
  label: string;
  /** Number of options (point: candidates + 1). */
  n: number;
  answer: number;
  /** Who was running (point), or the oldest ready task (pick). */
  current: string;
  /** Who runs because of the answer. */
  chosen: string;
  /** Who could have run instead (point: the candidates; pick: the run queue after the oldest). */
  others: string[];
}

/** A deviation from the default schedule (see the header). */
export type Deviation = readonly [label: string, who: string, occurrence: number, chosen: string];

/** Decides; `step` is the decision's index in the run (0-based), `occ` how often (label, who) was seen before. */
export interface Strategy {
  point(step: number, label: string, current: Task | undefined, cands: readonly Task[], n: number, occ: number): number;
  pick(step: number, runq: readonly Task[], n: number, occ: number): number;
}

const PICK = 'pick';

/** Replays deviations; 0 (the default) everywhere else and when the named task is not there. */
export class ReplayStrategy implements Strategy {
  // label -> who -> occurrence -> chosen
  private readonly at = new Map<string, Map<string, Map<number, string>>>();
  constructor(devs: readonly Deviation[]) {
    for (const [label, who, occ, chosen] of devs) {
      let m = this.at.get(label);
      if (!m) this.at.set(label, (m = new Map()));
      let o = m.get(who);
      if (!o) m.set(who, (o = new Map()));
      o.set(occ, chosen);
    }
  }
  private find(label: string, who: string, occ: number, tasks: readonly Task[], n: number): number {
    const name = this.at.get(label)?.get(who)?.get(occ);
    if (name === undefined) return -1;
    for (let i = 0; i < n; i++) if (tasks[i]!.name === name) return i;
    return -1;
  }
  point(_s: number, label: string, current: Task | undefined, cands: readonly Task[], n: number, occ: number): number {
    return 1 + this.find(label, current?.name ?? '-', occ, cands, n);
  }
  pick(_s: number, runq: readonly Task[], n: number, occ: number): number {
    return Math.max(0, this.find(PICK, runq[0]!.name, occ, runq, n));
  }
}

/** Bound on recorded decisions per run (memory); the hash and count go on past it. */
export const MAX_RECORDED = 200_000;

export class ControlledScheduler implements Scheduler {
  readonly preemptive = true;
  /** Decisions made so far. */
  steps = 0;
  /** Rolling hash of every decision (kind, label, options, answer). */
  hash = 0x811c9dc5;
  readonly decisions: Decision[] = [];
  readonly deviations: Deviation[] = [];
  truncated = false;
  // label -> who -> times seen
  private readonly seen = new Map<string, Map<string, number>>();

  constructor(
    private readonly strategy: Strategy,
    private readonly record = true,
  ) {}

  private occurrence(label: string, who: string): number {
    let m = this.seen.get(label);
    if (!m) this.seen.set(label, (m = new Map()));
    const k = m.get(who) ?? 0;
    m.set(who, k + 1);
    return k;
  }

  preempt(label: string, current: Task | undefined, cands: readonly Task[], n: number): number {
    const step = this.steps++;
    const who = current?.name ?? '-';
    const occ = this.occurrence(label, who);
    let a = this.strategy.point(step, label, current, cands, n, occ);
    if (!(a >= 0 && a <= n)) a = 0;
    const chosen = a === 0 ? who : cands[a - 1]!.name;
    if (a !== 0) this.deviations.push([label, who, occ, chosen]);
    this.note('point', label, n + 1, a, who, chosen, cands, 0, n);
    return a - 1;
  }

  pick(runq: readonly Task[], n: number): number {
    const step = this.steps++;
    const who = runq[0]!.name;
    const occ = this.occurrence(PICK, who);
    let a = this.strategy.pick(step, runq, n, occ);
    if (!(a >= 0 && a < n)) a = 0;
    const chosen = runq[a]!.name;
    if (a !== 0) this.deviations.push([PICK, who, occ, chosen]);
    this.note('pick', PICK, n, a, who, chosen, runq, 1, n);
    return a;
  }

  private note(kind: DecisionKind, label: string, n: number, answer: number, current: string, chosen: string, tasks: readonly Task[], from: number, to: number): void {
    this.hash = fnv1a(label, Math.imul(this.hash ^ (n * 65536 + answer), 0x01000193));
    if (!this.record) return;
    if (this.decisions.length >= MAX_RECORDED) {
      this.truncated = true;
      return;
    }
    const others: string[] = [];
    for (let i = from; i < to; i++) others.push(tasks[i]!.name);
    this.decisions.push({ kind, label, n, answer, current, chosen, others });
  }
}
