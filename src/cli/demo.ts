// `npm start` / `xenode demo [--seed N] [--trace-dir DIR]`: the main demo, the
// story the product exists to tell, in this order:
//   1. the Solo5/MirageOS runtime as it was on 15 June 2020 hangs during
//      netfront bring-up, with the report's 'e' dump, and why;
//   2. the same runtime hangs after `ping -f`, with netfront's port [1/0/1];
//   3. each single bug with its signature and the fix that removes it;
//   4. today's runtime survives `ping -f -c 100000`;
//   5. the xenwatch stall in dom0, with Linux's single xenwatch thread and
//      with mtwatch.
// Every part prints the command that replays it and where its Perfetto trace
// went (ui.perfetto.dev opens it).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, styleText } from 'node:util';
import { formatExplanation } from '../machine/explain.ts';
import { reportOfScenario, writeHangReport } from '../machine/report/index.ts';
import { xenwatchStall } from '../machine/scenarios/index.ts';
import { missedEvent, type MissedEventResult } from '../machine/scenarios/missed_event.ts';
import type { TranscriptStep } from '../machine/scenarios/transcript.ts';

const bold = (s: string) => (process.stdout.isTTY ? styleText('bold', s) : s);
const dim = (s: string) => (process.stdout.isTTY ? styleText('dim', s) : s);

/** The 'e' dump's lines for one domain (header included). */
function domainDump(dump: string, domid: number): string[] {
  const lines = dump.split('\n');
  const start = lines.findIndex((l) => l.includes(`Event channel information for domain ${domid}:`));
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.includes('Event channel information for domain'));
  return lines.slice(start, end < 0 ? undefined : end).filter((l) => l !== '');
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { seed: { type: 'string', default: '1' }, 'trace-dir': { type: 'string' }, count: { type: 'string', default: '100000' } },
  });
  const seed = Number(values.seed);
  const floodCount = Number(values.count);
  const traceDir = values['trace-dir'] ?? path.join(os.tmpdir(), 'xenode-demo');
  mkdirSync(traceDir, { recursive: true });
  const t0 = Date.now();
  let ok = true;
  const saveTrace = (r: { host: { sim: { trace: { enabled: boolean; toJSON(): string } } } }, name: string): string => {
    if (!r.host.sim.trace.enabled) return '';
    const f = path.join(traceDir, `${name}.json`);
    writeFileSync(f, r.host.sim.trace.toJSON());
    return f;
  };
  const footer = (r: MissedEventResult, trace: string) => {
    console.log(dim(`   replay: ${r.replay}`));
    if (trace) console.log(dim(`   trace:  ${trace}`));
  };

  // ------------------------------------------------------------ 1 and 2
  const parts: { title: string; workload: string; seed: number; count?: number; expect: string }[] = [
    { title: '1. the runtime of 15 June 2020 (buggy unmask + hlt with IF=1) during netfront bring-up', workload: 'netfront-setup', seed: 1, expect: 'hang' },
    { title: '2. the same runtime after ping -f from dom0', workload: 'ping-flood', seed: 3, count: 500, expect: 'hang' },
  ];
  for (const p of parts) {
    console.log(bold(`== ${p.title}`));
    const r = await missedEvent.run({ seed: p.seed, variant: 'june-2020', workload: p.workload, trace: true, ...(p.count ? { count: p.count } : {}) });
    const boot = r.transcript.steps.find((s) => s.id === 'boot')!;
    console.log(bold('# xl create mirage.cfg') + dim(`   (kernels/ping.ts: xenstore, console, netfront, ping responder; ports 1 xenstore, 2 console, 3 VIRQ_TIMER, 4 netfront)`));
    console.log(boot.checks.every((c) => c.ok) ? '   netfront is up' : '   ... netfront never comes up');
    if (p.workload === 'ping-flood') {
      console.log(bold(`# ping -f -q -c ${p.count} 10.0.0.2`));
      const pl = r.pingOutput.trim().split('\n');
      for (const l of pl.length <= 4 ? pl : pl.slice(0, 1).concat(pl.slice(-3))) if (l) console.log(l);
      if (!r.pingOutput.includes('statistics')) console.log(dim('   (ping is still waiting for replies)'));
    }
    console.log(bold('# xl debug-keys e; xl dmesg') + dim('   (the guest, domain 1)'));
    for (const l of domainDump(r.dump, 1)) console.log(l);
    console.log(`${r.outcome}: ${r.verdict?.detail ?? ''}`);
    for (const e of r.explanations.slice(0, 1)) console.log(formatExplanation(e, r.outcome === 'stall' ? 'stalled' : 'hung'));
    if (r.outcome !== p.expect) {
      ok = false;
      console.log(`   UNEXPECTED: ${r.outcome} (expected ${p.expect})`);
    }
    footer(r, saveTrace(r, `june-2020-${p.workload}`));
    // The same story as a page: the sequence diagram of the last steps, each port's bits after every step.
    const page = path.join(traceDir, `june-2020-${p.workload}.html`);
    writeHangReport(page, reportOfScenario(r, r.replay));
    console.log(dim(`   report: ${page}   (open it in a browser)`));
    console.log('');
  }

  // ------------------------------------------------------------ 3
  console.log(bold('== 3. one bug at a time: the signature in the dump, the bug, the fix'));
  const singles: { variant: string; workload: string; seed: number; count?: number }[] = [
    { variant: 'unmask=checks-mask', workload: 'netfront-setup', seed: 31 },
    { variant: 'block=hlt-without-cli', workload: 'netfront-setup', seed: 1 },
    { variant: 'handler-clears-upcall-pending', workload: 'ping-flood', seed: 1, count: 500 },
    { variant: 'upcall=global-callback', workload: 'netfront-setup', seed: 1 },
  ];
  for (const s of singles) {
    const r = await missedEvent.run({ seed: s.seed, variant: s.variant, workload: s.workload, trace: true, ...(s.count ? { count: s.count } : {}) });
    const e = r.explanations[0];
    console.log(bold(`-- ${s.variant} (${s.workload}): ${r.outcome}`));
    if (e) {
      console.log(`   ${e.title}`);
      console.log(`   bug: ${e.bug}`);
      console.log(`   fix: ${e.fix}`);
    } else {
      ok = false;
      console.log('   UNEXPECTED: no failure');
    }
    footer(r, saveTrace(r, s.variant.replace(/[=,]/g, '_')));
  }
  console.log('');

  // ------------------------------------------------------------ 4
  console.log(bold(`== 4. today's runtime (fixed) under ping -f -c ${floodCount}`));
  const tf = Date.now();
  const fixed = await missedEvent.run({ seed, variant: 'fixed', workload: 'ping-flood', count: floodCount });
  console.log(bold(`# ping -f -q -c ${floodCount} 10.0.0.2`));
  process.stdout.write(fixed.pingOutput);
  console.log(dim(`   ${fixed.outcome === 'ok' ? 'no hang, no stall' : `UNEXPECTED: ${fixed.outcome}`} (${((Date.now() - tf) / 1000).toFixed(1)} s real time)`));
  console.log(dim(`   replay: ${fixed.replay}; add --trace FILE for its trace`));
  if (!fixed.ok) ok = false;

  // ------------------------------------------------------------ 5
  for (const xenwatch of ['single', 'mtwatch'] as const) {
    console.log('');
    console.log(bold(`== ${xenwatch === 'single' ? 5 : 6}. the xenwatch stall, dom0 with ${xenwatch === 'single' ? "Linux's single xenwatch thread" : 'xenwatch multithreading (mtwatch)'}`));
    const res = await xenwatchStall.run({ seed, backend: 'netback', xenwatch, trace: true });
    const steps = new Map(res.transcript.steps.map((s) => [s.id, s] as [string, TranscriptStep]));
    const show = (id: string, filter?: (l: string) => boolean, title?: string) => {
      const s = steps.get(id);
      if (!s) return;
      console.log(dim(`-- ${title ?? s.title}  [t=${(s.t / 1e9).toFixed(3)}s]`));
      for (const l of s.lines) if (!filter || filter(l)) console.log(l.startsWith('# ') ? bold(l) : l);
    };
    show('stall', (l) => !/^\s+(rx_gso|tx_frag)/.test(l));
    show('destroy');
    show('zombie');
    show('stuck-thread', (l) => !/^\s+(1|2) S/.test(l));
    show('create-next', (l) => !/\[xenbus\]/.test(l));
    show('workaround', (l) => !/ps ax|PID STAT|\s\d+ [SR] /.test(l));
    show('drained');
    console.log(dim(`   ${res.ok ? 'all' : 'NOT all'} ${res.transcript.steps.reduce((n, s) => n + s.checks.length, 0)} checks hold`));
    console.log(dim(`   replay: ${res.replay}`));
    const f = path.join(traceDir, `xenwatch-stall-${xenwatch}.json`);
    writeFileSync(f, res.host.sim.trace.toJSON());
    console.log(dim(`   trace:  ${f}`));
    if (!res.ok) {
      ok = false;
      for (const fl of res.failures) console.log(`   FAIL ${fl}`);
    }
  }
  console.log('');
  console.log(dim(`demo done in ${((Date.now() - t0) / 1000).toFixed(1)} s real time; more: xenode scenario missed-event --help, xenode run kernels/ring.ts --variant unmask=checks-mask, xenode scenario dm-startup --legacy`));
  return ok ? 0 : 1;
}
