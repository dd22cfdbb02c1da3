// `xenode sweep SCENARIO --seeds A..B [scenario options]`: run a scenario over
// many seeds, and `xenode sweep run KERNEL --variant V --seeds A..B`: boot a
// kernel (with its peers) over many seeds, e.g. to show that the fixed
// runtime never hangs while `unmask=checks-mask` always does. Progress goes
// to stderr (a redrawn line on a terminal, nothing per seed when piped); the
// failing seeds are listed with the command that replays each. Exit 1 if any
// seed failed, 2 on a wrong command line.
import { parseArgs } from 'node:util';
import { playScenario, scenarioOptions } from './scenario.ts';
import { runScenario } from '../machine/run_kernel.ts';
import { scenarios } from '../machine/scenarios/index.ts';
import { Progress, UsageError, parseOptions, resolveKernelArg, parseSeeds, runCommand } from './args.ts';

export { parseSeeds };

export const help = `usage: xenode sweep SCENARIO --seeds A..B [scenario options] [--json]
       xenode sweep run KERNEL --seeds A..B [--variant V] [--cmdline "k=v ..."] [--json]

Runs a scenario (or boots a kernel with its peers) once per seed and lists the
seeds that failed, each with the command that replays it.

options:
  --seeds A..B|a,b,c   the seeds (default 1..50); an empty range such as 5..1 is an error
  --variant V          (sweep run) the guest runtime variant, default fixed
  --cmdline S          (sweep run) the kernel command line
  --json               print one JSON object instead of the text summary:
                         { "label": string, "seeds": number, "passed": number, "failed": number,
                           "seconds": number (wall clock),
                           "failing": [ { "seed": number, "why": string, "replay": string } ] }
  (any option of \`xenode scenario\` for SCENARIO: --backend, --xenwatch, --legacy, --cycles, ...)
  -h, --help           this help

Progress goes to stderr: one line redrawn with the rate and ETA on a terminal,
nothing per seed when stderr is not a terminal.
exit: 0 every seed passed, 1 some seed failed, 2 bad command line

example:
  xenode sweep run kernels/ring.ts --variant block=hlt-without-cli --seeds 1..30
`;

/** One seed's outcome: `why` is empty when it passed. */
interface Outcome {
  why: string;
  replay: string;
}

type Runner = { label: string; run(seed: number): Promise<Outcome> };

function kernelRunner(argv: string[]): Runner {
  const { values, positionals } = parseOptions({
    args: argv,
    allowPositionals: true,
    options: { seeds: { type: 'string' }, variant: { type: 'string', default: 'fixed' }, cmdline: { type: 'string' }, json: { type: 'boolean' } },
  });
  const kernel = positionals[1];
  if (!kernel) throw new UsageError('sweep run needs a KERNEL (xenode sweep run KERNEL [--variant V] [--cmdline "k=v"] --seeds 1..200)');
  const file = resolveKernelArg(kernel);
  const variant = values.variant!;
  return {
    label: `run ${kernel} (variant ${variant})`,
    async run(seed) {
      const r = await runScenario({ kernel: file, seed, variant, ...(values.cmdline ? { cmdline: values.cmdline } : {}), hostLog: () => {} });
      const replay = `xenode run ${kernel} --seed ${seed} --variant ${variant}${values.cmdline ? ` --cmdline "${values.cmdline}"` : ''}`;
      return { why: r.ok && r.result.reason !== 'hang' ? '' : r.summary, replay };
    },
  };
}

function scenarioRunner(argv: string[]): Runner {
  let parsed;
  try {
    parsed = scenarioOptions(argv);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!parsed.name) throw new UsageError('which scenario? (xenode sweep SCENARIO --seeds 1..200 [scenario options])');
  const name = parsed.name;
  const opts = parsed.opts;
  return {
    label: name,
    async run(seed) {
      const r = await playScenario(name, { ...opts, seed });
      return { why: r.ok ? '' : (r.failures[0] ?? 'failed'), replay: r.replay };
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  return runCommand('sweep', async () => {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(help);
      return 0;
    }
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: false, options: { seeds: { type: 'string', default: '1..50' }, json: { type: 'boolean' } } });
    const seeds = parseSeeds(String(values.seeds));
    const json = values.json === true;
    const runner = positionals[0] === 'run' ? kernelRunner(argv) : scenarioRunner(argv);
    // An unknown scenario is a wrong command line: find out before the first seed runs.
    if (positionals[0] !== 'run' && !scenarios[positionals[0] ?? ''])
      throw new UsageError(`unknown scenario '${positionals[0] ?? ''}' (known: ${Object.keys(scenarios).join(', ')})`);
    const failing: { seed: number; why: string; replay: string }[] = [];
    const t0 = Date.now();
    const progress = new Progress(seeds.length);
    for (let i = 0; i < seeds.length; i++) {
      const seed = seeds[i]!;
      let out: Outcome;
      try {
        out = await runner.run(seed);
      } catch (e) {
        out = { why: `threw: ${(e as Error).message}`, replay: `(seed ${seed})` };
      }
      if (out.why) failing.push({ seed, ...out });
      progress.step(i + 1, `seed ${seed} ${out.why ? 'FAIL' : 'ok'}, ${failing.length} failing`);
    }
    progress.end();
    const secs = (Date.now() - t0) / 1000;
    if (json) {
      console.log(JSON.stringify({ label: runner.label, seeds: seeds.length, passed: seeds.length - failing.length, failed: failing.length, seconds: secs, failing }, null, 2));
    } else if (failing.length === 0) {
      console.log(`sweep ${runner.label}: ${seeds.length} seeds, all ok (${secs.toFixed(1)} s)`);
    } else {
      console.log(`sweep ${runner.label}: ${failing.length} of ${seeds.length} seeds failed (${secs.toFixed(1)} s)`);
      for (const f of failing) console.log(`  seed ${f.seed}: ${f.why}\n    replay: ${f.replay}`);
    }
    return failing.length === 0 ? 0 : 1;
  });
}
