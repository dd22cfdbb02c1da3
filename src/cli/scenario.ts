// `xenode scenario NAME [options]`: play a scenario as a terminal transcript.
//   xenode scenario xenwatch-stall --backend netback|blkback-io|blkback-grant --xenwatch single|mtwatch
//                   [--seed N] [--trace F] [--json]
//   xenode scenario missed-event --variant fixed|june-2020|unmask=checks-mask|… --workload netfront-setup|ping-flood|xenstore
//                   [--count N] [--seed N] [--trace F] [--json]
//   xenode scenario dm-startup [--legacy] [--seed N] [--trace F] [--json]
//   xenode scenario frontend-handover [--backend netback|blkback] [--cycles N] [--seed N] [--trace F] [--json]
// Exit code 0 when every check of every step held; otherwise the failing
// checks and the command line that replays the run are printed.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runCommand, UsageError } from './args.ts';
import { scenarios, type ScenarioOptions, type ScenarioResult } from '../machine/scenarios/index.ts';
import { reportOfScenario, writeHangReport } from '../machine/report/index.ts';
import { checkSocketPath, serveUntilSignal } from './live.ts';

export function scenarioOptions(argv: string[]): { name: string | undefined; opts: ScenarioOptions; json: boolean; trace?: string; checks: boolean; rest: string[]; report?: string; socket?: string } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seed: { type: 'string', default: '1' },
      backend: { type: 'string', default: 'netback' },
      xenwatch: { type: 'string', default: 'single' },
      legacy: { type: 'boolean', default: false },
      trace: { type: 'string' },
      json: { type: 'boolean', default: false },
      checks: { type: 'boolean', default: false },
      'stop-after': { type: 'string' },
      scenario: { type: 'string' },
      seeds: { type: 'string' },
      cycles: { type: 'string', default: '3' },
      variant: { type: 'string', default: 'fixed' },
      workload: { type: 'string', default: 'netfront-setup' },
      count: { type: 'string' },
      report: { type: 'string' },
      'xenstore-socket': { type: 'string' },
    },
  });
  const extra = { ...(values.report !== undefined ? { report: values.report } : {}), ...(values['xenstore-socket'] !== undefined ? { socket: values['xenstore-socket'] } : {}) };
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  const name = values.scenario ?? positionals[0];
  const handover = name === 'frontend-handover';
  if (name === 'missed-event') {
    const opts: ScenarioOptions = { seed, variant: values.variant!, workload: values.workload!, trace: values.trace !== undefined };
    if (values.count !== undefined) {
      const n = Number(values.count);
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--count must be a positive integer, got ${values.count}`);
      opts.count = n;
    }
    if (values['stop-after']) opts.stopAfter = values['stop-after'];
    const out: ReturnType<typeof scenarioOptions> = { name, opts, json: values.json ?? false, checks: values.checks ?? false, rest: positionals.slice(values.scenario ? 0 : 1), ...extra };
    if (values.trace) out.trace = values.trace;
    return out;
  }
  const backend = values.backend as ScenarioOptions['backend'];
  if (handover) {
    if (values.backend !== 'netback' && values.backend !== 'blkback') throw new Error('--backend must be netback or blkback');
  } else if (!['netback', 'blkback-io', 'blkback-grant'].includes(backend!)) throw new Error(`--backend must be netback, blkback-io or blkback-grant`);
  const cycles = Number(values.cycles);
  if (!Number.isSafeInteger(cycles) || cycles < 1) throw new Error(`--cycles must be a positive integer, got ${values.cycles}`);
  const xenwatch = values.xenwatch as ScenarioOptions['xenwatch'];
  if (xenwatch !== 'single' && xenwatch !== 'mtwatch') throw new Error('--xenwatch must be single or mtwatch');
  const opts: ScenarioOptions = handover
    ? { seed, handoverBackend: values.backend as 'netback' | 'blkback', cycles, trace: values.trace !== undefined }
    : { seed, backend, xenwatch, legacy: values.legacy ?? false, trace: values.trace !== undefined };
  if (values['stop-after']) opts.stopAfter = values['stop-after'];
  const out: ReturnType<typeof scenarioOptions> = { name, opts, json: values.json ?? false, checks: values.checks ?? false, rest: positionals.slice(values.scenario ? 0 : 1), ...extra };
  if (values.trace) out.trace = values.trace;
  return out;
}

export async function playScenario(name: string | undefined, opts: ScenarioOptions): Promise<ScenarioResult> {
  const sc = name ? scenarios[name] : undefined;
  if (!sc) throw new UsageError(`unknown scenario '${name ?? ''}' (known: ${Object.keys(scenarios).join(', ')})`);
  if (opts.stopAfter && !sc.steps.includes(opts.stopAfter)) throw new UsageError(`--stop-after: no step '${opts.stopAfter}' (steps: ${sc.steps.join(', ')})`);
  return sc.run(opts);
}

export const help = `usage: xenode scenario NAME [options]

Plays a scenario on a fresh emulated host as a terminal transcript; every step
carries checks, and a failing check prints the command that replays the run.

scenarios:
${Object.values(scenarios).map((s) => `  ${s.name.padEnd(18)} ${s.describe}\n  ${''.padEnd(18)} steps: ${s.steps.join(', ')}`).join('\n')}

options:
  --seed N             the seed of every choice (default 1)
  --backend B          xenwatch-stall: netback|blkback-io|blkback-grant; frontend-handover: netback|blkback
  --xenwatch W         single|mtwatch (xenwatch-stall)
  --legacy             dm-startup: the legacy device-model path
  --cycles N           frontend-handover: how many handovers (default 3)
  --variant V          missed-event: the guest runtime variant (default fixed)
  --workload W         missed-event: netfront-setup|ping-flood|xenstore
  --count N            missed-event: how many events
  --stop-after STEP    stop after this step
  --checks             print every check, not only failing ones
  --trace FILE         write the Chrome trace of the run
  --report FILE.html   write the hang report: one self-contained page with the sequence diagram of the
                       last steps (guest vCPU, Xen, dom0 threads), each port's p/m/s and upcall_pending
                       after every step, the numbered interleaving, the 'e' dump and the replay command
  --xenstore-socket P  then keep the host running (virtual time follows the wall clock) and serve its
                       xenstored on the unix socket P (XENSTORED_PATH=P) until SIGINT/SIGTERM
  --json               print { name, options, ok, failures, replay, steps } as JSON
  -h, --help           this help
exit: 0 every check held, 1 a check failed, 2 bad command line

example:
  xenode scenario xenwatch-stall --backend netback --xenwatch mtwatch --seed 3
`;

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof scenarioOptions> | undefined;
  return runCommand('scenario', async () => {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(help);
      return 0;
    }
    try {
      parsed = scenarioOptions(argv);
      if (!parsed.name) throw new Error('which scenario? (known: ' + Object.keys(scenarios).join(', ') + ')');
      const sc = scenarios[parsed.name];
      if (!sc) throw new Error(`unknown scenario '${parsed.name}' (known: ${Object.keys(scenarios).join(', ')})`);
      if (parsed.opts.stopAfter && !sc.steps.includes(parsed.opts.stopAfter)) throw new Error(`--stop-after: no step '${parsed.opts.stopAfter}' (steps: ${sc.steps.join(', ')})`);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const busy = parsed.socket === undefined ? undefined : await checkSocketPath(parsed.socket);
    if (busy) throw new Error(`--xenstore-socket: ${busy}`);
    let r;
    try {
      r = await playScenario(parsed.name, parsed.opts);
    } catch (e) {
      console.error(`replay: xenode scenario ${argv.join(' ')}`);
      throw e;
    }
    if (parsed.trace) writeFileSync(parsed.trace, r.host.sim.trace.toJSON());
    if (parsed.report) writeHangReport(parsed.report, reportOfScenario(r, r.replay));
    if (parsed.json) {
      console.log(JSON.stringify({ name: r.name, options: r.options, ok: r.ok, failures: r.failures, replay: r.replay, steps: r.transcript.steps }, null, 2));
    } else {
      process.stdout.write(r.transcript.render({ checks: parsed.checks || !r.ok }));
      if (r.ok) console.log(`scenario ${r.name}: ok (${r.transcript.steps.reduce((n, s) => n + s.checks.length, 0)} checks)`);
      else {
        console.log(`scenario ${r.name}: FAILED`);
        for (const f of r.failures) console.log(`  ${f}`);
        console.log(`replay: ${r.replay}`);
      }
    }
    if (parsed.report && !parsed.json) console.log(`report written to ${parsed.report}`);
    if (parsed.socket !== undefined && (await serveUntilSignal('scenario', r.host, parsed.socket)) !== 0) return 1;
    return r.ok ? 0 : 1;
  });
}
