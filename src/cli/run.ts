// `xenode run KERNEL|CFG [--seed N] [--until S] [--trace out.json] [--variant V] [--debug-keys e] [--cmdline S] [--no-check]`
// Type-checks the kernel (machine/typecheck.ts; --no-check skips it), builds it, boots it on a full host (src/machine/run_kernel.ts)
// on a fresh simulated host, shows its console live, and prints the 'e' dump
// at the end (with --debug-keys e) or on a hang. A failing or hanging run
// prints the line that replays it.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, styleText } from 'node:util';
import { runScenario } from '../machine/run_kernel.ts';
import { formatExplanation } from '../machine/explain.ts';
import { typecheckKernel } from '../machine/typecheck.ts';

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        seed: { type: 'string', default: '1' },
        trace: { type: 'string' },
        variant: { type: 'string', default: 'fixed' },
        'debug-keys': { type: 'string' },
        cmdline: { type: 'string', default: '' },
        until: { type: 'string', default: '60' },
        'no-check': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    console.error(`xenode run: ${(e as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  // A path from the current directory (a kernel of your own), else one of the package's (kernels/hello.ts).
  const kernel = positionals[0] !== undefined && existsSync(positionals[0]) ? path.resolve(positionals[0]) : positionals[0];
  if (values.help || !kernel) {
    console.log('usage: xenode run KERNEL|CFG [--seed N] [--until SECONDS] [--trace out.json] [--variant V] [--debug-keys e] [--cmdline "k=v ..."] [--no-check]');
    console.log('variants: fixed, unmask=checks-mask, block=hlt-without-cli, handler-clears-upcall-pending, upcall=global-callback');
    return kernel ? 0 : 2;
  }
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    console.error(`xenode run: --seed must be a non-negative integer`);
    return 2;
  }
  const untilS = Number(values.until);
  if (!Number.isFinite(untilS) || untilS <= 0) {
    console.error('xenode run: --until must be a positive number of seconds (virtual time)');
    return 2;
  }
  if (!values['no-check'] && /\.(ts|mts)$/.test(kernel)) {
    const tc = typecheckKernel(kernel);
    if (tc.errors.length > 0) {
      console.error(`xenode run: ${positionals[0]} does not type-check (--no-check runs it anyway):`);
      for (const e of tc.errors) console.error(e);
      return 1;
    }
  }
  const variant = values.variant ?? 'fixed';
  const replay = `replay: xenode run ${positionals[0]} --seed ${seed}${variant !== 'fixed' ? ` --variant ${variant}` : ''}${values.cmdline ? ` --cmdline '${values.cmdline}'` : ''}`;
  const pending = new Map<number, string>();
  const onConsole = (domid: number, text: string) => {
    const buf = (pending.get(domid) ?? '') + text;
    const lines = buf.split('\n');
    pending.set(domid, lines.pop()!);
    for (const l of lines) process.stdout.write(`${styleText('dim', `(d${domid})`)} ${l}\n`);
  };
  let r;
  try {
    r = await runScenario({
      kernel, seed, variant, trace: values.trace !== undefined, cmdline: values.cmdline ?? '', onConsole, until: untilS * 1e9,
      hostLog: (l) => console.error(styleText('red', l)),
    });
  } catch (e) {
    console.error(`xenode run: ${(e as Error).message}`);
    return 1;
  }
  for (const [domid, rest] of pending) if (rest) process.stdout.write(`(d${domid}) ${rest}\n`);
  for (const l of r.hv.xenConsole) console.log(`(XEN) ${l}`);
  const hang = r.result.reason === 'hang';
  if (values.trace) {
    writeFileSync(values.trace, r.sim.trace.toJSON());
    console.log(`trace written to ${values.trace}`);
  }
  if (hang || values['debug-keys']?.includes('e')) process.stdout.write(r.hv.debugKey('e'));
  if (r.ok) {
    console.log(styleText('green', `xenode: ${r.summary} (seed ${seed}, variant ${variant}, ${(r.sim.now / 1e9).toFixed(3)} s virtual)`));
    return 0;
  }
  console.log(styleText('red', `xenode: ${r.summary}`));
  if (r.verdict) console.log(`${r.verdict.outcome}: ${r.verdict.detail}`);
  for (const e of r.explanations) console.log(formatExplanation(e));
  console.log(replay);
  return 1;
}
