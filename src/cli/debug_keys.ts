// `xenode debug-keys KEYS KERNEL... [--seed N] [--variant V]`: boots the kernels
// (each with its peers, see src/machine/peers.ts), runs until they finish or
// hang, and prints the debug-key dump Xen would print for each key.
import { runScenario } from '../machine/run_kernel.ts';
import { UsageError, resolveKernelArg, parseOptions, parseSeed, runCommand } from './args.ts';

export const help = `usage: xenode debug-keys KEYS KERNEL... [--seed N] [--variant V]

Boots each kernel (with its peers) on a fresh host, runs it until it finishes
or hangs, and prints what Xen's keyhandlers print for KEYS (e.g. 'e': event
channels). Unlike \`xl debug-keys\`, the dump goes to stdout.

options:
  --seed N             the seed (default 1)
  --variant V          the guest runtime variant (default fixed)
  -h, --help           this help
exit: 0 every kernel ran ok, 1 a kernel failed or hung, 2 bad command line

example:
  xenode debug-keys e kernels/ring.ts --variant block=hlt-without-cli
`;

export async function main(argv: string[]): Promise<number> {
  return runCommand('debug-keys', async () => {
    const { values, positionals } = parseOptions({
      args: argv,
      allowPositionals: true,
      options: { seed: { type: 'string', default: '1' }, variant: { type: 'string', default: 'fixed' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    const seed = parseSeed(values.seed);
    const [keys, ...args] = positionals;
    if (!keys || args.length === 0) throw new UsageError('needs KEYS and at least one KERNEL (xenode debug-keys e kernels/hello.ts)');
    const kernels = args.map((a) => resolveKernelArg(a));
    let rc = 0;
    for (const kernel of kernels) {
      const r = await runScenario({ kernel, seed, variant: values.variant ?? 'fixed', hostLog: () => {} });
      for (const k of keys) {
        const out = r.hv.debugKey(k);
        if (out) process.stdout.write(out);
      }
      if (!r.ok) rc = 1;
    }
    return rc;
  });
}
