// `xenode sweep SCENARIO --seeds A..B [scenario options]`: run a scenario over
// many seeds, and `xenode sweep run KERNEL --variant V --seeds A..B`: boot a
// kernel (with its peers) over many seeds, e.g. to show that the fixed
// runtime never hangs while `unmask=checks-mask` always does. A progress bar
// (`\r` on a TTY, plain lines otherwise); the failing seeds are listed with
// the command that replays each. Exit 1 if any seed failed.
import { parseArgs } from 'node:util';
import { playScenario, scenarioOptions } from './scenario.ts';
import { runScenario } from '../machine/run_kernel.ts';

export function parseSeeds(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:\.\.(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad --seeds '${s}' (use A..B or a,b,c)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** One seed's outcome: `why` is empty when it passed. */
interface Outcome {
  why: string;
  replay: string;
}

type Runner = { label: string; run(seed: number): Promise<Outcome> };

function kernelRunner(argv: string[]): Runner {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { seeds: { type: 'string' }, variant: { type: 'string', default: 'fixed' }, cmdline: { type: 'string' } },
  });
  const kernel = positionals[1];
  if (!kernel) throw new Error('usage: xenode sweep run KERNEL [--variant V] [--cmdline "k=v"] --seeds 1..200');
  const variant = values.variant!;
  return {
    label: `run ${kernel} (variant ${variant})`,
    async run(seed) {
      const r = await runScenario({ kernel, seed, variant, ...(values.cmdline ? { cmdline: values.cmdline } : {}), hostLog: () => {} });
      const replay = `xenode run ${kernel} --seed ${seed} --variant ${variant}${values.cmdline ? ` --cmdline "${values.cmdline}"` : ''}`;
      return { why: r.ok && r.result.reason !== 'hang' ? '' : r.summary, replay };
    },
  };
}

function scenarioRunner(argv: string[]): Runner {
  const parsed = scenarioOptions(argv);
  if (!parsed.name) throw new Error('usage: xenode sweep SCENARIO --seeds 1..200 [scenario options]');
  const name = parsed.name;
  return {
    label: name,
    async run(seed) {
      const r = await playScenario(name, { ...parsed.opts, seed });
      return { why: r.ok ? '' : (r.failures[0] ?? 'failed'), replay: r.replay };
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  let seeds: number[];
  let runner: Runner;
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: false, options: { seeds: { type: 'string', default: '1..50' } } });
    seeds = parseSeeds(String(values.seeds));
    runner = positionals[0] === 'run' ? kernelRunner(argv) : scenarioRunner(argv);
  } catch (e) {
    console.error(`xenode sweep: ${(e as Error).message}`);
    return 2;
  }
  const tty = process.stdout.isTTY === true;
  const failing: { seed: number; why: string; replay: string }[] = [];
  const t0 = Date.now();
  const width = 30;
  for (let i = 0; i < seeds.length; i++) {
    const seed = seeds[i]!;
    let out: Outcome;
    try {
      out = await runner.run(seed);
    } catch (e) {
      out = { why: `threw: ${(e as Error).message}`, replay: `(seed ${seed})` };
    }
    if (out.why) failing.push({ seed, ...out });
    const done = i + 1;
    const filled = Math.round((done / seeds.length) * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${seeds.length} seed ${seed} ${out.why ? 'FAIL' : 'ok'}, ${failing.length} failing`;
    if (tty) process.stdout.write(`\r${bar}`);
    else console.log(bar);
  }
  if (tty) process.stdout.write('\n');
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (failing.length === 0) {
    console.log(`sweep ${runner.label}: ${seeds.length} seeds, all ok (${secs} s)`);
    return 0;
  }
  console.log(`sweep ${runner.label}: ${failing.length} of ${seeds.length} seeds failed (${secs} s)`);
  for (const f of failing) console.log(`  seed ${f.seed}: ${f.why}\n    replay: ${f.replay}`);
  return 1;
}
