// `xenode explore` throughput: schedules per second on one core (this thread,
// no workers), for kernels/ring.ts with the fixed runtime (every schedule runs
// to the end) under the random and PCT strategies and for missed-event's
// netfront-setup workload, recording off (what a
// campaign does; recording is only on while shrinking); and the cost of the
// simulator's choice point, which every strategy goes through.
import { measureExpectedSteps, runCampaign } from '../src/machine/explore/campaign.ts';
import { findTarget } from '../src/machine/explore/registry.ts';
import type { Spec } from '../src/machine/explore/schedule.ts';
import { Sim, type Task } from '../src/sim/index.ts';
import { median, type BenchOptions, type BenchRow } from './lib.ts';

/** Schedules per CPU second of this process (user + system): per core, and robust to a shared, loaded machine. */
async function rate(spec: Spec, n: number, seed: number): Promise<number> {
  const target = findTarget(spec.target);
  const c0 = process.cpuUsage();
  const r = await runCampaign(target, { spec, seed, schedules: n, shard: { index: 0, count: 1 }, jobs: 1, checkDeterminism: false });
  const c = process.cpuUsage(c0);
  return r.run / ((c.user + c.system) / 1e6);
}

/**
 * The simulator's hot path: sim.point() at a choice point with one ready
 * nestable task, under the default scheduler (preemptOneIn 2: half the points
 * run the task nested) and with preemption off (the early return).
 */
function points(preemptOneIn: number, n: number): number {
  const sim = new Sim({ seed: 1, preemptOneIn });
  const peer: Task = { name: 'peer', queued: false, nestable: true, run: () => sim.ready(peer) };
  const top: Task = {
    name: 'top',
    queued: false,
    nestable: false,
    run: () => {
      sim.ready(peer);
      for (let i = 0; i < n; i++) sim.point('p');
    },
  };
  sim.ready(top);
  const c0 = process.cpuUsage();
  sim.run({ maxSteps: 1 });
  const c = process.cpuUsage(c0);
  return n / ((c.user + c.system) / 1e6);
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.quick ? 100 : 500;
  const reps = opts.quick ? 1 : 3;
  const rows: BenchRow[] = [];
  const ring = findTarget('kernels/ring.ts');
  // Warm: the kernel bundle is built and cached by the first schedule.
  await rate({ target: 'kernels/ring.ts', variant: 'fixed', workload: 'default', strategy: 'random', params: {} }, 5, 1);
  const pctSpec: Spec = { target: 'kernels/ring.ts', variant: 'fixed', workload: 'default', strategy: 'pct', params: {} };
  pctSpec.params = { depth: 3, expectedSteps: await measureExpectedSteps(ring, pctSpec, 1) };
  const posSpec: Spec = { ...pctSpec, strategy: 'pos', params: {} };
  for (const spec of [{ ...pctSpec, strategy: 'random', params: {} } as Spec, pctSpec, posSpec]) {
    const xs: number[] = [];
    for (let i = 0; i < reps; i++) xs.push(await rate(spec, n, 1 + i * n));
    rows.push({
      group: 'explore',
      name: `ring.ts fixed, ${spec.strategy} schedules, 1 core`,
      value: median(xs),
      unit: 'schedules/s',
      target: '>= 1,000 /s',
      note: `per CPU second (user+system of the process, GC included); median of ${reps} x ${n} schedules (boot, 50 items, poweroff each)${spec.strategy === 'pct' ? `; PCT depth 3, k ${spec.params.expectedSteps}` : ''}`,
    });
  }
  // missed-event netfront-setup (the Mirage-like guest on the full host: boot, netfront, one ping).
  const me: Spec = { target: 'missed-event', variant: 'fixed', workload: 'netfront-setup', strategy: 'random', params: {} };
  await rate(me, 3, 1);
  const nm = opts.quick ? 30 : 150;
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) ms.push(await rate(me, nm, 1 + i * nm));
  rows.push({
    group: 'explore',
    name: 'missed-event fixed netfront-setup, random schedules, 1 core',
    value: median(ms),
    unit: 'schedules/s',
    target: '>= 200 /s',
    note: `per CPU second (user+system, GC included); median of ${reps} x ${nm} schedules (boot the Mirage-like guest, netfront up, one ping)`,
  });
  const np = opts.quick ? 1_000_000 : 5_000_000;
  for (const p of [2, 0]) {
    const xs: number[] = [];
    for (let i = 0; i < 5; i++) xs.push(points(p, np));
    rows.push({
      group: 'explore',
      name: `sim.point(), one ready nestable task, preemptOneIn ${p}`,
      value: median(xs),
      unit: 'points/s',
      note: `per CPU second; median of 5 x ${np.toLocaleString('en-US')}${p ? ' (half of them run the task nested)' : ' (the early return)'}`,
    });
  }
  return rows;
}
