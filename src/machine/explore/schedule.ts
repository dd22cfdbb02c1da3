// One schedule: a target run under a strategy (or a replayed list of
// deviations), with its decisions recorded.
//
// Schedule i of a campaign with root seed S has seed S + i: that seed drives
// the strategy's draws and the run's own streams (sim.stream), so a schedule
// is (target, variant, workload, strategy, seed) and nothing else; with the
// random strategy it is exactly `xenode run KERNEL --seed S+i`.
import { ControlledScheduler, ReplayStrategy, type Decision, type Deviation, type Strategy } from './control.ts';
import { makeStrategy, swarmConfig, type StrategyName, type StrategyParams } from './strategy.ts';
import { hex32, type Outcome, type Target } from './target.ts';

export interface Spec {
  target: string;
  variant: string;
  workload: string;
  strategy: StrategyName;
  params: StrategyParams;
}

export interface ScheduleResult {
  index: number;
  seed: number;
  ok: boolean;
  signature: string;
  summary: string;
  /** Decisions taken. */
  steps: number;
  /** Swarm's load (else undefined: the target's default). */
  load?: number;
  /** Non-default answers: the schedule, replayable. */
  deviations: Deviation[];
  /** Hash of every decision and of the outcome's fingerprint. */
  hash: string;
}

export interface Replayed {
  outcome: Outcome;
  steps: number;
  deviations: Deviation[];
  decisions: Decision[];
  hash: string;
}

async function runWith(target: Target, spec: Pick<Spec, 'variant' | 'workload'>, seed: number, load: number | undefined, strategy: Strategy, record: boolean): Promise<Replayed> {
  const sched = new ControlledScheduler(strategy, record);
  let outcome: Outcome;
  try {
    outcome = await target.run({ seed, scheduler: sched, variant: spec.variant, workload: spec.workload, ...(load !== undefined ? { load } : {}) });
  } catch (e) {
    // A throw under one schedule is a finding (a bug of the simulator or of a
    // model), not the end of the campaign: it gets a signature and shrinks.
    const msg = String((e as Error)?.message ?? e).split('\n', 1)[0]!;
    outcome = { ok: false, signature: `threw: ${msg.replace(/\d+/g, 'N')}`, summary: `threw: ${msg}`, fingerprint: `threw ${msg}` };
  }
  return { outcome, steps: sched.steps, deviations: sched.deviations, decisions: sched.decisions, hash: `${hex32(sched.hash)}:${outcome.fingerprint}` };
}

export async function runSchedule(target: Target, spec: Spec, index: number, seed: number, record = false): Promise<ScheduleResult> {
  const load = spec.strategy === 'swarm' ? swarmConfig(seed).load : undefined;
  const r = await runWith(target, spec, seed, load, makeStrategy(spec.strategy, seed, spec.params), record);
  return {
    index,
    seed,
    ok: r.outcome.ok,
    signature: r.outcome.signature,
    summary: r.outcome.summary,
    steps: r.steps,
    ...(load !== undefined ? { load } : {}),
    deviations: r.deviations,
    hash: r.hash,
  };
}

/** Run `deviations` as the schedule (0 = default everywhere else). */
export function replay(target: Target, spec: Pick<Spec, 'variant' | 'workload'>, seed: number, load: number | undefined, deviations: readonly Deviation[], record = true): Promise<Replayed> {
  return runWith(target, spec, seed, load, new ReplayStrategy(deviations), record);
}
