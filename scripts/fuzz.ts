// `npm run fuzz -- [--target xs-ring|xs-socket|hypercall|netif|blkif] [--count N] [--seconds S] [--seed N]`:
// runs each target (default: all) for at most N frames (default 100,000) and
// S seconds (default 10) each, prints frames, frames/s, the invariants
// checked and the daemon-side heap, and on a broken invariant the failure and
// a replay line (exit 1). Bad arguments: one line, exit 2.
import { FUZZ_TARGETS, replayLine } from '../src/machine/fuzz/index.ts';

function usage(msg: string): never {
  process.stderr.write(`fuzz: ${msg}\nusage: npm run fuzz -- [--target ${Object.keys(FUZZ_TARGETS).join('|')}] [--count N] [--seconds S] [--seed N]\n`);
  process.exit(2);
}

const opts = { count: 100_000, seconds: 10, seed: 1, targets: Object.keys(FUZZ_TARGETS) };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  const v = argv[++i];
  if (v === undefined) usage(`${a} needs a value`);
  if (a === '--target') {
    if (!FUZZ_TARGETS[v]) usage(`unknown target ${v}`);
    opts.targets = [v];
  } else if (a === '--count' || a === '--seconds' || a === '--seed') {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (a !== '--seconds' && !Number.isInteger(n))) usage(`${a} ${v}: not a ${a === '--seconds' ? 'number' : 'whole number'}`);
    opts[a.slice(2) as 'count' | 'seconds' | 'seed'] = n;
  } else usage(`unknown option ${a}`);
}

const mb = (b: number) => (b / 2 ** 20).toFixed(1);
let failed = false;
for (const name of opts.targets) {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const r = await FUZZ_TARGETS[name]!(opts.seed, { count: opts.count, seconds: opts.seconds });
  gc?.();
  const heap1 = process.memoryUsage().heapUsed;
  const rate = r.seconds > 0 ? Math.round(r.frames / r.seconds) : 0;
  console.log(`${name}: ${r.frames} frames in ${r.seconds.toFixed(1)} s (${rate.toLocaleString('en-US')} frames/s), seed ${opts.seed}; heap ${mb(heap0)} -> ${mb(heap1)} MB${gc ? '' : ' (no --expose-gc)'}`);
  for (const inv of r.invariants) console.log(`  checked: ${inv}`);
  for (const n of r.notes) console.log(`  ${n}`);
  if (r.failure) {
    failed = true;
    console.log(`  FAILED: ${r.failure}`);
    console.log(`  replay: ${replayLine(r, opts.seed)}`);
  }
}
process.exitCode = failed ? 1 : 0;
