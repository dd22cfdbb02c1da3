// `xenode sweep SCENARIO --seeds A..B [scenario options]`: run a scenario over
// many seeds; a progress bar (`\r` on a TTY, plain lines otherwise); reports
// the failing seeds with the command that replays each.
import { parseArgs } from 'node:util';
import { playScenario, scenarioOptions } from './scenario.ts';

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

export async function main(argv: string[]): Promise<number> {
  let seeds: number[];
  let parsed;
  try {
    const { values } = parseArgs({ args: argv, allowPositionals: true, strict: false, options: { seeds: { type: 'string', default: '1..50' } } });
    seeds = parseSeeds(String(values.seeds));
    parsed = scenarioOptions(argv);
  } catch (e) {
    console.error(`xenode sweep: ${(e as Error).message}`);
    return 2;
  }
  if (!parsed.name) {
    console.error('usage: xenode sweep SCENARIO --seeds 1..200 [scenario options]');
    return 2;
  }
  const tty = process.stdout.isTTY === true;
  const failing: { seed: number; why: string; replay: string }[] = [];
  const t0 = Date.now();
  const width = 30;
  for (let i = 0; i < seeds.length; i++) {
    const seed = seeds[i]!;
    let why = '';
    let replay = `xenode scenario ${argv.filter((a, j) => !(a === '--seeds' || argv[j - 1] === '--seeds' || a.startsWith('--seeds='))).join(' ')} --seed ${seed}`;
    try {
      const r = await playScenario(parsed.name, { ...parsed.opts, seed });
      if (!r.ok) why = r.failures[0] ?? 'failed';
      replay = r.replay;
    } catch (e) {
      why = `threw: ${(e as Error).message}`;
    }
    if (why) failing.push({ seed, why, replay });
    const done = i + 1;
    const filled = Math.round((done / seeds.length) * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${seeds.length} seed ${seed} ${why ? 'FAIL' : 'ok'}, ${failing.length} failing`;
    if (tty) process.stdout.write(`\r${bar}`);
    else console.log(bar);
  }
  if (tty) process.stdout.write('\n');
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (failing.length === 0) {
    console.log(`sweep ${parsed.name}: ${seeds.length} seeds, all ok (${secs} s)`);
    return 0;
  }
  console.log(`sweep ${parsed.name}: ${failing.length} of ${seeds.length} seeds failed (${secs} s)`);
  for (const f of failing) console.log(`  seed ${f.seed}: ${f.why}\n    replay: ${f.replay}`);
  return 1;
}
