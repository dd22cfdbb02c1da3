// `xenode explore TARGET [options]`: run many schedules of a scenario under a
// strategy, report the distinct failures, shrink each to a 1-minimal
// interleaving with a one-token replay (src/machine/explore/).
//   xenode explore kernels/ring.ts --variant block=hlt-without-cli --strategy pct --schedules 1000
//   xenode explore missed-event --variant june-2020 --workload netfront-setup --strategy pct
//   xenode explore xenwatch-stall --variant single --workload netback --schedules 20
//   xenode explore kernels/ring.ts --shard 3/8 --json > shard3.json; xenode explore merge shard*.json
// Exit 0: no schedule failed; 1: some failed; 2: bad usage.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { firstFailures, measureExpectedSteps, mergeReports, runCampaign, type CampaignReport } from '../machine/explore/campaign.ts';
import { findTarget } from '../machine/explore/registry.ts';
import { emitTest, shrinkToToken } from '../machine/explore/replay.ts';
import type { Spec } from '../machine/explore/schedule.ts';
import { STRATEGIES, type StrategyName } from '../machine/explore/strategy.ts';
import { decodeToken, gitCommit } from '../machine/explore/token.ts';

const USAGE =
  'usage: xenode explore TARGET [--variant V] [--workload W] [--strategy random|pct|swarm|pos] [--depth D]\n' +
  '                      [--schedules N] [--jobs J] [--shard I/N] [--seed S] [--json] [--check-determinism]\n' +
  '                      [--no-shrink] [--emit-test DIR] [--campaigns C] [--picks priority|fifo]\n' +
  '       xenode explore merge FILES...';

function int(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

/** stderr progress: only on a TTY (a log file gets the final table only). */
function progress(total: number): { tick(done: number, failures: number): void; end(): void } {
  if (!process.stderr.isTTY) return { tick() {}, end() {} };
  const t0 = performance.now();
  let last = 0;
  return {
    tick(done, failures) {
      const now = performance.now();
      if (done < total && now - last < 100) return;
      last = now;
      const rate = done / ((now - t0) / 1000);
      const eta = rate > 0 ? (total - done) / rate : 0;
      const w = 30;
      const filled = Math.round((done / total) * w);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${done}/${total}  ${rate.toFixed(1)}/s  ETA ${eta.toFixed(0)} s  ${failures} failing `);
    },
    end() {
      process.stderr.write('\n');
    },
  };
}

export function renderReport(r: CampaignReport): string {
  const rate = r.seconds > 0 ? r.run / r.seconds : 0;
  const p = r.strategy === 'pct' ? ` (depth ${r.params.depth}, k ${r.params.expectedSteps}${r.params.picks === 'fifo' ? ', FIFO picks' : ''})` : '';
  const first = r.firstFailure === null ? '-' : `${r.firstFailure} (seed ${r.seed + r.firstFailure})`;
  const rows: [string, string][] = [
    ['target', `${r.target}  variant ${r.variant}  workload ${r.workload}`],
    ['strategy', `${r.strategy}${p}, root seed ${r.seed}${r.shardCount > 1 ? `, shards ${r.shards.join(',')} of ${r.shardCount}` : ''}`],
    ['schedules run', String(r.run)],
    ['failures', String(r.failures)],
    ['distinct signatures', String(r.signatures.length)],
    ['first failing schedule', first],
    ['schedules/s', `${rate.toFixed(1)} (${r.jobs} job${r.jobs === 1 ? '' : 's'}; ${(rate / r.jobs).toFixed(1)} per job)`],
  ];
  if (r.nondeterministic.length) rows.push(['NONDETERMINISTIC', `${r.nondeterministic.length} schedule(s): a bug in xenode`]);
  const out = rows.map(([k, v]) => `  ${k.padEnd(24)} ${v}`);
  for (const s of r.signatures) {
    out.push(`  ${String(s.count).padStart(6)}x  ${s.signature}  (first: schedule ${s.first.index}, seed ${s.first.seed})`);
    if (s.replay) out.push(`           replay: xenode replay ${s.replay.token}`);
  }
  for (const d of r.nondeterministic) out.push(`  diverged: schedule ${d.index} seed ${d.seed}: ${d.hashes[0]} vs ${d.hashes[1]}`);
  return out.join('\n') + '\n';
}

/**
 * `--campaigns C`: C independent campaigns, each until its first failure (at
 * most --schedules): schedules to first failure, median, and the measured
 * depth of the bug (deviations left after shrinking the first one found).
 */
async function measure(spec: Spec, campaigns: number, limit: number, seed: number, depth: number, json: boolean): Promise<number> {
  const target = findTarget(spec.target);
  const t0 = performance.now();
  const ff = await firstFailures(target, spec, seed, campaigns, limit, depth);
  let shrunk: Awaited<ReturnType<typeof shrinkToToken>> | undefined;
  if (ff.example) shrunk = await shrinkToToken(spec, ff.example, gitCommit());
  const out = {
    target: spec.target,
    variant: spec.variant,
    workload: spec.workload,
    strategy: spec.strategy,
    ...(spec.strategy === 'pct' ? { depth, ks: ff.ks, picks: spec.params.picks ?? 'priority' } : {}),
    seed,
    campaigns,
    limit,
    found: ff.found,
    median: ff.median,
    signature: ff.example?.signature ?? null,
    shrunkDeviations: shrunk?.deviations ?? null,
    shrunkMinimal: shrunk?.minimal ?? null,
    seconds: (performance.now() - t0) / 1000,
  };
  if (json) console.log(JSON.stringify(out));
  else {
    console.log(`${spec.target} ${spec.variant} ${spec.workload}, ${spec.strategy}${spec.strategy === 'pct' ? ` depth ${depth}` : ''}: ${campaigns} campaigns of at most ${limit} schedules`);
    console.log(`  schedules to first failure: ${ff.found.map((x) => x ?? `>${limit}`).join(' ')}`);
    console.log(`  median ${ff.median ?? `>${limit}`}; ${ff.found.filter((x) => x !== null).length}/${campaigns} campaigns found it`);
    if (shrunk) console.log(`  ${out.signature}: shrunk to ${shrunk.deviations} deviation(s) (measured depth${shrunk.minimal ? '' : '; NOT 1-minimal: run budget spent'})`);
  }
  return ff.found.some((x) => x !== null) ? 1 : 0;
}

async function merge(files: string[]): Promise<number> {
  if (files.length === 0) throw new Error('usage: xenode explore merge FILES...');
  const reports = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as CampaignReport);
  const m = mergeReports(reports);
  process.stdout.write(renderReport(m));
  return m.failures > 0 || m.nondeterministic.length > 0 ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv[0] === 'merge') return await merge(argv.slice(1));
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        variant: { type: 'string' },
        workload: { type: 'string' },
        strategy: { type: 'string', default: 'random' },
        depth: { type: 'string', default: '3' },
        schedules: { type: 'string', default: '1000' },
        jobs: { type: 'string' },
        shard: { type: 'string', default: '0/1' },
        seed: { type: 'string', default: '1' },
        json: { type: 'boolean', default: false },
        'check-determinism': { type: 'boolean', default: false },
        'no-shrink': { type: 'boolean', default: false },
        'emit-test': { type: 'string' },
        campaigns: { type: 'string' },
        picks: { type: 'string' },
      },
    });
    const name = positionals[0];
    if (!name || positionals.length > 1) throw new Error(USAGE);
    const target = findTarget(name);
    const variant = values.variant ?? target.variants[0]!;
    const workload = values.workload ?? target.workloads[0]!;
    if (!target.variants.includes(variant)) throw new Error(`${name}: unknown variant '${variant}' (known: ${target.variants.join(', ')})`);
    if (!target.workloads.includes(workload)) throw new Error(`${name}: unknown workload '${workload}' (known: ${target.workloads.join(', ')})`);
    const strategy = values.strategy as StrategyName;
    if (!STRATEGIES.includes(strategy)) throw new Error(`--strategy must be one of ${STRATEGIES.join(', ')}`);
    const schedules = int('schedules', values.schedules, 1);
    const seed = int('seed', values.seed, 0);
    const depth = int('depth', values.depth, 1);
    const jobs = values.jobs === undefined ? Math.max(1, os.availableParallelism()) : int('jobs', values.jobs, 1);
    const m = /^(\d+)\/(\d+)$/.exec(values.shard!);
    if (!m) throw new Error(`--shard must be I/N, got '${values.shard}'`);
    const shard = { index: Number(m[1]), count: Number(m[2]) };
    if (!(shard.count >= 1 && shard.index < shard.count)) throw new Error(`--shard ${values.shard}: need 0 <= I < N`);

    if (values.picks !== undefined && !['priority', 'fifo'].includes(values.picks)) throw new Error(`--picks must be priority or fifo, got '${values.picks}'`);
    if (values.picks !== undefined && strategy !== 'pct') throw new Error('--picks is a pct option');
    const spec: Spec = { target: name, variant, workload, strategy, params: values.picks ? { picks: values.picks as 'priority' | 'fifo' } : {} };
    if (strategy === 'pct' && values.campaigns === undefined) {
      const k = await measureExpectedSteps(target, spec, seed);
      spec.params = { ...spec.params, depth, expectedSteps: k };
    }
    if (values.campaigns !== undefined) return await measure(spec, int('campaigns', values.campaigns, 1), schedules, seed, depth, values.json!);
    const bar = progress(Math.ceil((schedules - shard.index) / shard.count));
    let failing = 0;
    const report = await runCampaign(target, {
      spec,
      seed,
      schedules,
      shard,
      jobs,
      checkDeterminism: values['check-determinism']!,
      onResult: (r, done) => {
        if (!r.ok) failing++;
        bar.tick(done, failing);
      },
    });
    bar.end();
    const shrinkAll = !values['no-shrink'];
    const commit = gitCommit();
    const extra: Record<string, { token: string; steps: string[] }> = {};
    const log = (s: string) => (values.json ? process.stderr : process.stdout).write(s);
    log(renderReport(report));
    if (shrinkAll) {
      for (const s of report.signatures.slice(0, 5)) {
        const sh = await shrinkToToken(spec, s.first, commit);
        extra[s.signature] = { token: sh.token, steps: sh.steps };
        log(`\n${s.signature}\n  shrunk from ${sh.from} to ${sh.deviations} deviation(s), ${sh.minimal ? '1-minimal' : 'NOT 1-minimal (run budget spent)'} (${sh.runs} runs):\n`);
        log(sh.steps.map((l) => `  ${l}\n`).join(''));
        log(`  replay: xenode replay ${sh.token}\n`);
        if (values['emit-test']) log(`  test: ${emitTest(values['emit-test'], decodeToken(sh.token), sh.token, sh.steps)}\n`);
      }
    }
    if (values.json) {
      for (const s of report.signatures) if (extra[s.signature]) s.replay = extra[s.signature];
      process.stdout.write(JSON.stringify(report) + '\n');
    }
    return report.failures > 0 || report.nondeterministic.length > 0 ? 1 : 0;
  } catch (e) {
    console.error(`xenode explore: ${(e as Error).message}`);
    return 2;
  }
}
