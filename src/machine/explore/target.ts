// What `xenode explore` explores: a Target runs one schedule of a scenario
// (a kernel file with its peers, or a dom0 scenario) under a Scheduler it is
// handed, and says whether the run failed and how (the failure signature).
//
// The contract a target keeps, so that a schedule replays and shrinks:
//   - every scheduling decision goes through `opts.scheduler` (the Sim's);
//   - every other random draw (ids, guest Math.random seeds, workload pauses)
//     comes from a `sim.stream(name)` of `opts.seed`, never from the scheduler;
//   - the same (seed, variant, workload, load, scheduler answers) gives the
//     same Outcome, fingerprint included (`--check-determinism` checks it).
// Targets are listed in registry.ts.
import type { Scheduler } from '../../sim/index.ts';

export interface RunOpts {
  /** Root seed of the run's own streams (libxl ids, guest seeds, workload). */
  seed: number;
  /** Answers every scheduling decision (recording, replaying or a strategy). */
  scheduler: Scheduler;
  /** One of Target.variants (the first is the default). */
  variant: string;
  /** One of Target.workloads (the first is the default). */
  workload: string;
  /** Swarm: how much load the workload applies, in [0, 1] (undefined = the target's default). */
  load?: number;
}

export interface Outcome {
  ok: boolean;
  /**
   * '' when ok. Otherwise what identifies the bug, not this run: the hang
   * class and ports (e.g. "lost-interrupt d1 ports 2"), or the failed check,
   * plus the stack of a stuck dom0 thread. No times or counters.
   */
  signature: string;
  /** One line for people (may hold times and counters). */
  summary: string;
  /** What a determinism check compares besides the decisions: virtual time, steps, console. */
  fingerprint: string;
  /**
   * Why it failed, for people, when the target can say (missed-event: the
   * numbered interleaving explain.ts rebuilds from the flight recorder);
   * printed under a shrunk schedule's decisions.
   */
  explanation?: string[];
}

export interface Target {
  name: string;
  describe: string;
  /** The first is the default; `buggy` lists the ones expected to fail. */
  variants: readonly string[];
  buggy: readonly string[];
  workloads: readonly string[];
  run(opts: RunOpts): Promise<Outcome>;
}

/** FNV-1a (32-bit) of a string, as 8 hex digits: fingerprints and trace hashes. */
export function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
