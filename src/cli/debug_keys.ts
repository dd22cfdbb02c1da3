// `xenode debug-keys e KERNEL... [--seed N] [--variant V]`: boots the kernels
// (each with its peers, see src/guest/scenario.ts), runs until they finish or
// hang, and prints the debug-key dump Xen would print (only 'e' for now).
import { parseArgs } from 'node:util';
import { runScenario } from '../machine/run_kernel.ts';

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { seed: { type: 'string', default: '1' }, variant: { type: 'string', default: 'fixed' } },
  });
  const [keys, ...kernels] = positionals;
  if (!keys || kernels.length === 0) {
    console.error('usage: xenode debug-keys e KERNEL... [--seed N] [--variant V]');
    return 2;
  }
  let rc = 0;
  for (const kernel of kernels) {
    const r = await runScenario({ kernel, seed: Number(values.seed), variant: values.variant ?? 'fixed', hostLog: () => {} });
    for (const k of keys) {
      const out = r.hv.debugKey(k);
      if (out) process.stdout.write(out);
    }
    if (!r.ok) rc = 1;
  }
  return rc;
}
