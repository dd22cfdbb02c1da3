// Strategies: how a schedule's decisions are drawn from its seed.
//
//   random  today's walk (RandomScheduler's draws exactly: preempt with
//           probability 1/preemptOneIn, a uniform candidate, a uniform pick),
//           so schedule seed S of `random` is `xenode run --seed S`.
//   pct     Probabilistic Concurrency Testing (Burckhardt, Kothari, Musuvathi,
//           Nagarakatte, ASPLOS 2010): every task gets a random priority
//           (> depth); the highest-priority ready task always runs (at a
//           choice point: a higher-priority ready candidate preempts the
//           current task); at depth-1 change points drawn uniformly over the
//           expected run length k, the running task drops to priority i
//           (1..depth-1, below every initial one). A bug of depth d is found
//           with probability >= 1/(n * k^(d-1)) per run. With `picks: fifo`
//           (--picks fifo) the top level runs the oldest ready task as the
//           default schedule does, and priorities only decide preemptions at
//           choice points (BENCHMARKS.md: on missed-event that finds the
//           bugs the priority-ordered top level hides).
//   swarm   (Groce et al., ISSTA 2012) each schedule first draws its own
//           configuration: which kinds of choice point may preempt, how often,
//           how the top level picks, and the workload's load; then walks
//           randomly inside it. Variety across schedules instead of within.
//   pos     partial-order sampling (Yuan, Yang, Gu, CAV 2018), BasicPOS: a
//           priority per event (a task's next step), kept while the event
//           waits, so dom0's ready work lands after a heavy-tailed delay
//           (pos.ts; BENCHMARKS.md: 26-29x fewer schedules than random on
//           kernels/ring.ts, where PCT's change points gain 3-5x).
import { Choices, type Task } from '../../sim/index.ts';
import type { Strategy } from './control.ts';
import { highestAbove } from './priority.ts';
import { PosStrategy } from './pos.ts';

export type StrategyName = 'random' | 'pct' | 'swarm' | 'pos';
export const STRATEGIES: readonly StrategyName[] = ['random', 'pct', 'swarm', 'pos'];

export interface StrategyParams {
  /** random: preempt with probability 1/preemptOneIn at a choice point (default 2, as the Sim's). */
  preemptOneIn?: number;
  /** pct: bug depth d (d-1 priority change points; default 3). */
  depth?: number;
  /** pct: expected decisions per run (measured by warm-up runs). */
  expectedSteps?: number;
  /**
   * pct: how the top level picks among ready tasks. `priority` (default):
   * the highest, as PCT's "always run the highest-priority enabled task".
   * `fifo`: the oldest, as the default schedule does; priorities then decide
   * only the preemptions at choice points (which of the guest's steps dom0's
   * work lands between), not the order of dom0's own tasks on its CPU.
   */
  picks?: 'priority' | 'fifo';
}

export class RandomStrategy implements Strategy {
  private readonly ch: Choices;
  constructor(seed: number, private readonly oneIn = 2, private readonly filter?: (label: string) => boolean, private readonly pickMode: 'random' | 'fifo' | 'lifo' = 'random') {
    this.ch = Choices.fromSeed(seed);
  }
  point(_s: number, label: string, _c: Task | undefined, _cands: readonly Task[], n: number): number {
    if (this.oneIn <= 0 || (this.filter && !this.filter(label))) return 0;
    return this.ch.oneIn(this.oneIn) ? 1 + this.ch.choose(n) : 0;
  }
  pick(_s: number, _runq: readonly Task[], n: number): number {
    return this.pickMode === 'random' ? this.ch.choose(n) : this.pickMode === 'fifo' ? 0 : n - 1;
  }
}

export class PctStrategy implements Strategy {
  private readonly ch: Choices;
  private readonly prio = new Map<Task, number>();
  /** Decision index -> priority the running task drops to there. */
  private readonly changes = new Map<number, number>();
  readonly changePoints: number[];

  constructor(seed: number, readonly depth: number, readonly expectedSteps: number, readonly picks: 'priority' | 'fifo' = 'priority') {
    if (!Number.isSafeInteger(depth) || depth < 1) throw new RangeError(`pct depth must be a positive integer, got ${depth}`);
    this.ch = Choices.fromSeed(seed);
    const k = Math.max(1, Math.round(expectedSteps));
    this.changePoints = [];
    for (let i = 1; i < depth; i++) {
      const at = this.ch.choose(k);
      this.changePoints.push(at);
      // Two change points on one step: the later (higher) priority wins, as if
      // they were one; the depth is then effectively one less.
      this.changes.set(at, i);
    }
  }

  private p(t: Task): number {
    let v = this.prio.get(t);
    if (v === undefined) {
      // A random order of the tasks above every change-point priority.
      v = this.depth + this.ch.float();
      this.prio.set(t, v);
    }
    return v;
  }

  point(step: number, _label: string, current: Task | undefined, cands: readonly Task[], n: number): number {
    const drop = this.changes.get(step);
    if (drop !== undefined && current) this.prio.set(current, drop);
    return 1 + highestAbove(cands, n, (t) => this.p(t), current ? this.p(current) : -1);
  }

  pick(step: number, runq: readonly Task[], n: number): number {
    const at = this.picks === 'priority' ? Math.max(0, highestAbove(runq, n, (t) => this.p(t), -1)) : 0;
    const drop = this.changes.get(step);
    if (drop !== undefined) this.prio.set(runq[at]!, drop);
    return at;
  }
}

/** Kinds of choice point swarm turns on and off, by label. */
export const POINT_KINDS = ['hypercall', 'cli', 'sti', 'hlt', 'eoi', 'block', 'demux', 'unmask', 'evtchn', 'gnttab', 'xs', 'other'] as const;
export type PointKind = (typeof POINT_KINDS)[number];

export function pointKind(label: string): PointKind {
  const head = label.split(/[: ]/, 1)[0]!;
  return (POINT_KINDS as readonly string[]).includes(head) ? (head as PointKind) : 'other';
}

export interface SwarmConfig {
  kinds: PointKind[];
  preemptOneIn: number;
  pick: 'random' | 'fifo' | 'lifo';
  /** Workload load in [0, 1], handed to the target. */
  load: number;
}

/** The configuration of swarm schedule `seed` (its own stream, so the walk's draws do not shift it). */
export function swarmConfig(seed: number): SwarmConfig {
  const ch = Choices.derive(seed, 'swarm');
  let kinds = POINT_KINDS.filter(() => ch.oneIn(2));
  if (kinds.length === 0) kinds = [POINT_KINDS[ch.choose(POINT_KINDS.length)]!];
  const rates = [1, 2, 3, 5, 10, 30];
  return { kinds, preemptOneIn: rates[ch.choose(rates.length)]!, pick: (['random', 'fifo', 'lifo'] as const)[ch.choose(3)]!, load: ch.choose(1001) / 1000 };
}

export function swarmStrategy(seed: number, cfg = swarmConfig(seed)): Strategy {
  const on = new Set<string>(cfg.kinds);
  const memo = new Map<string, boolean>();
  const filter = (label: string) => {
    let v = memo.get(label);
    if (v === undefined) memo.set(label, (v = on.has(pointKind(label))));
    return v;
  };
  return new RandomStrategy(seed, cfg.preemptOneIn, filter, cfg.pick);
}

/** The strategy of one schedule. */
export function makeStrategy(name: StrategyName, seed: number, params: StrategyParams = {}): Strategy {
  switch (name) {
    case 'random':
      return new RandomStrategy(seed, params.preemptOneIn ?? 2);
    case 'pct':
      return new PctStrategy(seed, params.depth ?? 3, params.expectedSteps ?? 1000, params.picks ?? 'priority');
    case 'swarm':
      return swarmStrategy(seed);
    case 'pos':
      return new PosStrategy(seed);
  }
}
