// `xenode run KERNEL|CFG [--seed N] [--until S] [--trace out.json] [--variant V] [--debug-keys e] [--cmdline S] [--no-check]`
// Type-checks the kernel (machine/typecheck.ts; --no-check skips it), builds it, boots it on a full host (src/machine/run_kernel.ts)
// on a fresh simulated host, shows its console live, and prints the 'e' dump
// at the end (with --debug-keys e) or on a hang. A failing or hanging run
// prints the line that replays it.
import { writeFileSync } from 'node:fs';
import { parseArgs, styleText } from 'node:util';
import { runScenario } from '../machine/run_kernel.ts';
import { formatExplanation } from '../machine/explain.ts';
import { typecheckKernel } from '../machine/typecheck.ts';
import { errorLine, resolveKernelArg } from './args.ts';
import { reportOfRun, writeHangReport } from '../machine/report/index.ts';
import { checkSocketPath, serveUntilSignal } from './live.ts';

export const help = `usage: xenode run KERNEL|CFG [options]

Type-checks and builds the kernel (or the kernel of an xl cfg), boots it with
its peers on a fresh emulated host, shows its console live, and prints the 'e'
dump at the end (--debug-keys e) or on a hang, with the line that replays it.

options:
  --seed N             the seed of every choice (default 1)
  --until SECONDS      stop after this much virtual time (default 60)
  --variant V          the guest runtime: fixed, unmask=checks-mask, block=hlt-without-cli,
                       handler-clears-upcall-pending, upcall=global-callback (default fixed)
  --cmdline "k=v ..."  the kernel command line
  --debug-keys KEYS    print these keyhandlers' dumps at the end (to stdout: this is not xl)
  --trace FILE         write the Chrome trace of the run
  --no-check           skip the type-check of a .ts kernel
  --report FILE.html   write the hang report: one self-contained page with the sequence diagram of the
                       last steps (guest vCPU, Xen, dom0 threads), each port's p/m/s and upcall_pending
                       after every step, the numbered interleaving, the 'e' dump and the replay command
  --xenstore-socket P  after the run, keep the host running (virtual time follows the wall clock) and
                       serve its xenstored on the unix socket P (XENSTORED_PATH=P) until SIGINT/SIGTERM
  --json               print one JSON object instead of the live console and summary:
                         { "kernel": string, "seed": number, "variant": string, "ok": boolean,
                           "reason": string (why the simulation stopped: done|hang|until|...),
                           "summary": string, "virtual_s": number,
                           "console": { "<domid>": [line, ...] }, "xen": [line, ...] (Xen's console),
                           "verdict": null | { "outcome": "hang"|"stall"|"recovered", "detail": string },
                           "debug_keys": string (the dumps asked for, and 'e' on a hang),
                           "replay": string }
  -h, --help           this help
exit: 0 the kernel ran ok, 1 it failed or hung (or did not build), 2 bad command line

example:
  xenode run kernels/ring.ts --variant block=hlt-without-cli --seed 7
`;

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
        json: { type: 'boolean' },
        report: { type: 'string' },
        'xenstore-socket': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    console.error(`xenode run: ${(e as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (positionals[0] === undefined) {
    console.error('xenode run: which KERNEL or CFG? (try: xenode run --help)');
    return 2;
  }
  // A path from the current directory (a kernel of your own), else one of the package's (kernels/hello.ts).
  let kernel: string;
  try {
    kernel = resolveKernelArg(positionals[0]);
  } catch (e) {
    console.error(`xenode run: ${(e as Error).message} (try: xenode run --help)`);
    return 2;
  }
  const seed = Number(values.seed);
  if (!/^\d+$/.test(values.seed ?? '') || !Number.isSafeInteger(seed)) {
    console.error(`xenode run: --seed must be a non-negative integer`);
    return 2;
  }
  const untilS = Number(values.until);
  if (!Number.isFinite(untilS) || untilS <= 0) {
    console.error('xenode run: --until must be a positive number of seconds (virtual time)');
    return 2;
  }
  const socket = values['xenstore-socket'];
  const busy = socket === undefined ? undefined : await checkSocketPath(socket);
  if (busy) {
    console.error(`xenode run: --xenstore-socket: ${busy}`);
    return 1;
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
  const json = values.json === true;
  const pending = new Map<number, string>();
  // With --json the console is collected into the object instead of shown live.
  const consoleLines: Record<string, string[]> = {};
  const seen: string[] = [];
  const emit = (domid: number, l: string) => {
    if (values.report) seen.push(`(d${domid}) ${l}`);
    if (json) (consoleLines[domid] ??= []).push(l);
    else process.stdout.write(`${styleText('dim', `(d${domid})`)} ${l}\n`);
  };
  const onConsole = (domid: number, text: string) => {
    const buf = (pending.get(domid) ?? '') + text;
    const lines = buf.split('\n');
    pending.set(domid, lines.pop()!);
    for (const l of lines) emit(domid, l);
  };
  let r;
  try {
    r = await runScenario({
      kernel, seed, variant, trace: values.trace !== undefined, cmdline: values.cmdline ?? '', onConsole, until: untilS * 1e9,
      hostLog: (l) => console.error(styleText('red', l)),
    });
  } catch (e) {
    console.error(`xenode run: ${errorLine(e)}`);
    return 1;
  }
  for (const [domid, rest] of pending) if (rest) emit(domid, rest);
  const hang = r.result.reason === 'hang';
  if (values.trace) writeFileSync(values.trace, r.sim.trace.toJSON());
  // Asked-for keys in order; 'e' is added on a hang (the dump that explains it).
  const keys = [...(values['debug-keys'] ?? '')];
  if (hang && !keys.includes('e')) keys.push('e');
  const dumps = keys.map((k) => r.hv.debugKey(k)).join('');
  if (values.report) writeHangReport(values.report, reportOfRun(r, `xenode run ${argv.join(' ')}`, replay.replace(/^replay: /, ''), seen.join('\n')));
  // Then a live host, whatever the outcome (inspect a hung one with xenstore-ls); the exit code stays the run's.
  const machine = r.machine;
  const done = async (c: number) => (socket !== undefined && (await serveUntilSignal('run', machine, socket)) !== 0 ? 1 : c);
  if (json) {
    const v = r.verdict ? { outcome: r.verdict.outcome, detail: r.verdict.detail } : null;
    console.log(JSON.stringify({
      kernel: positionals[0], seed, variant, ok: r.ok, reason: r.result.reason, summary: r.summary, virtual_s: r.sim.now / 1e9,
      console: consoleLines, xen: [...r.hv.xenConsole], verdict: v, debug_keys: dumps, replay: replay.replace(/^replay: /, ''),
    }, null, 2));
    return done(r.ok ? 0 : 1);
  }
  for (const l of r.hv.xenConsole) console.log(`(XEN) ${l}`);
  if (values.report) console.log(`report written to ${values.report}`);
  if (values.trace) console.log(`trace written to ${values.trace}`);
  process.stdout.write(dumps);
  if (r.ok) {
    console.log(styleText('green', `xenode: ${r.summary} (seed ${seed}, variant ${variant}, ${(r.sim.now / 1e9).toFixed(3)} s virtual)`));
    return done(0);
  }
  console.log(styleText('red', `xenode: ${r.summary}`));
  if (r.verdict) console.log(`${r.verdict.outcome}: ${r.verdict.detail}`);
  for (const e of r.explanations) console.log(formatExplanation(e));
  console.log(replay);
  return done(1);
}
