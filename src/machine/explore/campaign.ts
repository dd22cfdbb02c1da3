// A campaign: N schedules of one (target, variant, workload, strategy) from a
// root seed, optionally one shard of them, on worker threads; the report is
// what `--json` prints and `xenode explore merge` adds up.
//
// Sharding: schedule i (seed S + i) belongs to shard i mod N, so shards are
// disjoint, cover the space, and each has the same mix of early and late
// schedules; `first failure` stays the global index. PCT's expected run
// length is measured by warm-up runs derived from the root seed only, so
// every shard of a campaign uses the same k.
import { Worker } from 'node:worker_threads';
import { Choices } from '../../sim/index.ts';
import { runSchedule, type ScheduleResult, type Spec } from './schedule.ts';
import type { Target } from './target.ts';
import { withFreshRealms } from '../../dom0/toolstack/realm_pool.ts';

export interface CampaignOptions {
  spec: Spec;
  seed: number;
  /** Size of the schedule space (all shards). */
  schedules: number;
  shard: { index: number; count: number };
  jobs: number;
  checkDeterminism: boolean;
  onResult?: (r: ScheduleResult, done: number, total: number) => void;
}

export interface SignatureStat {
  signature: string;
  count: number;
  /** The failing schedule with the lowest index (replayable: seed, load, deviations). */
  first: ScheduleResult;
  /** `first`, shrunk (the CLI adds it unless --no-shrink). */
  replay?: { token: string; steps: string[] };
}

export interface Divergence {
  index: number;
  seed: number;
  hashes: [string, string];
}

export interface CampaignReport {
  v: 1;
  target: string;
  variant: string;
  workload: string;
  strategy: Spec['strategy'];
  params: Spec['params'];
  seed: number;
  schedules: number;
  shards: number[];
  shardCount: number;
  run: number;
  failures: number;
  signatures: SignatureStat[];
  /** Lowest failing schedule index, or null. */
  firstFailure: number | null;
  /** Sum over shards of wall-clock seconds (for schedules/s per shard). */
  seconds: number;
  jobs: number;
  nondeterministic: Divergence[];
}

const MAX_SIGNATURES = 100;

// Worker threads do not inherit the tsx loader the CLI runs under (Node 20
// applies --import to the main thread only), so each worker first registers
// tsx's ESM hooks, then imports the TypeScript entry.
const WORKER_URL = new URL('./worker.ts', import.meta.url).href;
const TSX_API = import.meta.resolve('tsx/esm/api');
const WORKER_BOOT = `const { workerData } = require('node:worker_threads');
import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(workerData.entry); });`;
const MAX_DIVERGENCES = 20;

export function shardIndices(schedules: number, shard: { index: number; count: number }): number[] {
  if (!(Number.isSafeInteger(shard.count) && shard.count >= 1 && Number.isSafeInteger(shard.index) && shard.index >= 0 && shard.index < shard.count))
    throw new Error(`bad shard ${shard.index}/${shard.count} (use I/N with 0 <= I < N)`);
  const out: number[] = [];
  for (let i = shard.index; i < schedules; i += shard.count) out.push(i);
  return out;
}

/**
 * PCT's k: mean decisions per run of PCT itself without change points
 * (depth 1: every task keeps its random priority), over a few warm-up runs
 * whose seeds derive from the root seed only. Not the random walk's length:
 * preempting at random lets the peers finish early, and a run where the
 * guest outranks its peer is ten times longer (kernels/ring.ts: ~90 decisions
 * random, ~45 or ~700 under PCT), so change points drawn over the random
 * length would all land in the first tenth of a PCT run.
 */
export async function measureExpectedSteps(target: Target, spec: Spec, seed: number, runs = 5): Promise<number> {
  const ch = Choices.derive(seed, 'pct-warmup');
  let sum = 0;
  for (let i = 0; i < runs; i++) {
    const s = ch.choose(2 ** 30);
    const picks = spec.params.picks ? { picks: spec.params.picks } : {};
    sum += (await runSchedule(target, { ...spec, strategy: 'pct', params: { depth: 1, expectedSteps: 1, ...picks } }, -1, s)).steps;
  }
  return Math.max(1, Math.round(sum / runs));
}

/** Folds schedule results into a report (also used by merge). */
export class Tally {
  readonly sigs = new Map<string, SignatureStat>();
  run = 0;
  failures = 0;
  readonly divergences: Divergence[] = [];

  add(r: ScheduleResult): void {
    this.run++;
    if (r.ok) return;
    this.failures++;
    const s = this.sigs.get(r.signature);
    if (s) {
      s.count++;
      if (r.index < s.first.index) s.first = r;
    } else if (this.sigs.size < MAX_SIGNATURES) this.sigs.set(r.signature, { signature: r.signature, count: 1, first: r });
  }

  diverged(d: Divergence): void {
    if (this.divergences.length < MAX_DIVERGENCES) this.divergences.push(d);
  }

  get firstFailure(): number | null {
    let m: number | null = null;
    for (const s of this.sigs.values()) if (m === null || s.first.index < m) m = s.first.index;
    return m;
  }

  signatures(): SignatureStat[] {
    return [...this.sigs.values()].sort((a, b) => a.first.index - b.first.index);
  }
}

/**
 * One schedule, and with `check` once more, comparing the hashes. The first
 * run takes its guests' realms from the pool (reused, realm_pool.ts), the
 * second fresh ones: a divergence is a bug of xenode, the realm reuse's included.
 */
export async function runChecked(target: Target, spec: Spec, index: number, seed: number, check: boolean): Promise<{ r: ScheduleResult; div?: Divergence }> {
  const r = await runSchedule(target, spec, index, seed);
  if (!check) return { r };
  const again = await withFreshRealms(() => runSchedule(target, spec, index, seed));
  return again.hash === r.hash ? { r } : { r, div: { index, seed, hashes: [r.hash, again.hash] } };
}

/** Runs the campaign (this thread when jobs <= 1, else worker threads). */
export async function runCampaign(target: Target, o: CampaignOptions): Promise<CampaignReport> {
  const indices = shardIndices(o.schedules, o.shard);
  const tally = new Tally();
  const t0 = performance.now();
  let done = 0;
  const take = (r: ScheduleResult, div?: Divergence) => {
    tally.add(r);
    if (div) tally.diverged(div);
    o.onResult?.(r, ++done, indices.length);
  };
  const jobs = Math.max(1, Math.min(o.jobs, indices.length));
  if (jobs <= 1) {
    for (const i of indices) {
      const { r, div } = await runChecked(target, o.spec, i, o.seed + i, o.checkDeterminism);
      take(r, div);
    }
  } else {
    await Promise.all(
      Array.from({ length: jobs }, (_, j) => {
        const mine = indices.filter((_, k) => k % jobs === j);
        return new Promise<void>((resolve, reject) => {
          const w = new Worker(WORKER_BOOT, { eval: true, workerData: { entry: WORKER_URL, spec: o.spec, seed: o.seed, indices: mine, check: o.checkDeterminism } });
          w.on('message', (m: { r: ScheduleResult; div?: Divergence }) => take(m.r, m.div));
          w.on('error', reject);
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`explore worker ${j} exited with ${code}`))));
        });
      }),
    );
  }
  return {
    v: 1,
    target: o.spec.target,
    variant: o.spec.variant,
    workload: o.spec.workload,
    strategy: o.spec.strategy,
    params: o.spec.params,
    seed: o.seed,
    schedules: o.schedules,
    shards: [o.shard.index],
    shardCount: o.shard.count,
    run: tally.run,
    failures: tally.failures,
    signatures: tally.signatures(),
    firstFailure: tally.firstFailure,
    seconds: (performance.now() - t0) / 1000,
    jobs,
    nondeterministic: tally.divergences,
  };
}

/** Adds up shard reports of one campaign (same target, variant, workload, strategy, params, seed, space). */
export function mergeReports(reports: readonly CampaignReport[]): CampaignReport {
  const [a] = reports;
  if (!a) throw new Error('merge: no reports');
  const key = (r: CampaignReport) => JSON.stringify([r.target, r.variant, r.workload, r.strategy, r.params, r.seed, r.schedules, r.shardCount]);
  const tally = new Tally();
  const shards = new Set<number>();
  let seconds = 0;
  for (const r of reports) {
    if (r.v !== 1) throw new Error(`merge: report version ${String(r.v)}`);
    if (key(r) !== key(a)) throw new Error(`merge: reports of different campaigns (${key(a)} vs ${key(r)})`);
    for (const s of r.shards) {
      if (shards.has(s)) throw new Error(`merge: shard ${s}/${r.shardCount} given twice`);
      shards.add(s);
    }
    tally.run += r.run;
    tally.failures += r.failures;
    for (const s of r.signatures) {
      const m = tally.sigs.get(s.signature);
      if (m) {
        m.count += s.count;
        if (s.first.index < m.first.index) {
          m.first = s.first;
          if (s.replay) m.replay = s.replay;
          else delete m.replay;
        }
      } else tally.sigs.set(s.signature, { ...s });
    }
    for (const d of r.nondeterministic) tally.diverged(d);
    seconds += r.seconds;
  }
  return { ...a, shards: [...shards].sort((x, y) => x - y), run: tally.run, failures: tally.failures, signatures: tally.signatures(), firstFailure: tally.firstFailure, seconds, nondeterministic: tally.divergences };
}

export interface FirstFailures {
  /** Per campaign: schedules run until (and including) the first failure, or null if none within the limit. */
  found: (number | null)[];
  /** Median over campaigns (a campaign that found nothing counts as limit + 1), or null if half found nothing. */
  median: number | null;
  /** The first campaign's first failure (to shrink: its size is the bug's measured depth). */
  example?: ScheduleResult;
  /** PCT's k of each campaign. */
  ks: number[];
}

/**
 * `--campaigns C`: C independent campaigns (campaign c has root seed
 * seed + c * limit, so no two share a schedule seed), each run in order until
 * its first failure or `limit` schedules: how much exploration a strategy
 * needs to find the bug.
 */
export async function firstFailures(target: Target, spec: Spec, seed: number, campaigns: number, limit: number, depth: number): Promise<FirstFailures> {
  const found: (number | null)[] = [];
  const ks: number[] = [];
  let example: ScheduleResult | undefined;
  for (let c = 0; c < campaigns; c++) {
    const root = seed + c * limit;
    const s: Spec = { ...spec, params: { ...spec.params } };
    if (s.strategy === 'pct') {
      const k = await measureExpectedSteps(target, s, root);
      s.params = { ...s.params, depth, expectedSteps: k };
      ks.push(k);
    }
    let hit: number | null = null;
    for (let i = 0; i < limit; i++) {
      const r = await runSchedule(target, s, i, root + i);
      if (!r.ok) {
        hit = i + 1;
        example ??= r;
        break;
      }
    }
    found.push(hit);
  }
  const xs = found.map((x) => x ?? limit + 1).sort((a, b) => a - b);
  const m = xs.length % 2 ? xs[xs.length >> 1]! : (xs[(xs.length >> 1) - 1]! + xs[xs.length >> 1]!) / 2;
  return { found, median: m > limit ? null : m, ...(example ? { example } : {}), ks };
}
