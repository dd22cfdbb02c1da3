// `npm start` / `xenode demo [--seed N] [--trace out.json]`: the main demo.
//   1. Two unikernels created with `xl create` exchange events over an
//      interdomain channel; `xl debug-keys e` shows Xen's event-channel dump
//      mid-exchange; `xl list` after they powered off.
//   2. The xenwatch stall (docs/architecture.md §5.1), short form, twice: with Linux's
//      single xenwatch thread (`xl destroy` leaves a `(null)` zombie, the
//      next `xl create` fails with libxl's lines) and with mtwatch (only
//      [xen-mtwatch-1] is stuck; the next domain starts). The NIC reset
//      releases the stall in both.
import { writeFileSync } from 'node:fs';
import { parseArgs, styleText } from 'node:util';
import { Machine } from '../machine/machine.ts';
import { xenwatchStall } from '../machine/scenarios/index.ts';
import type { TranscriptStep } from '../machine/scenarios/transcript.ts';

const bold = (s: string) => (process.stdout.isTTY ? styleText('bold', s) : s);
const dim = (s: string) => (process.stdout.isTTY ? styleText('dim', s) : s);

function printCmd(cmd: string, out: string): void {
  console.log(bold(`# ${cmd}`));
  if (out) process.stdout.write(out.endsWith('\n') ? out : out + '\n');
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { seed: { type: 'string', default: '1' }, trace: { type: 'string' }, rounds: { type: 'string', default: '1000' } } });
  const seed = Number(values.seed);
  const rounds = Number(values.rounds);
  const t0 = Date.now();
  let ok = true;

  // ---------------------------------------------------------------- part 1
  console.log(bold('== 1. two unikernels, one event channel (xl create, xl debug-keys e)'));
  const host = new Machine({ seed, trace: values.trace !== undefined });
  host.files.set('ping.cfg', `name = "ping"\nkernel = "kernels/pingpong.ts"\nmemory = 32\non_poweroff = "preserve"\nextra = "role=server peer=2 rounds=${rounds}"\n`);
  let r = await host.xl('create ping.cfg');
  printCmd('xl create ping.cfg', r.stdout + r.stderr);
  host.sim.run({ until: host.sim.now + 1e6 });
  const con = host.console(1) ?? '';
  printCmd('xl console ping', con);
  const port = Number(/port (\d+)/.exec(con)?.[1] ?? 2);
  host.files.set('pong.cfg', `name = "pong"\nkernel = "kernels/pingpong.ts"\nmemory = 32\non_poweroff = "preserve"\nextra = "role=client peer=1 port=${port} rounds=${rounds}"\n`);
  r = await host.xl('create pong.cfg');
  printCmd('xl create pong.cfg', r.stdout + r.stderr);
  const pong = host.hv.domain(2);
  host.sim.runUntil(() => (pong?.evtchn.boundPorts().length ?? 0) >= 3, { until: host.sim.now + 1e9 });
  r = host.xlSync('debug-keys e');
  printCmd('xl debug-keys e', r.stdout);
  host.sim.run({ until: host.sim.now + 5e9 });
  printCmd('xl console pong', host.console(2) ?? '');
  r = host.xlSync('list');
  printCmd('xl list', r.stdout);
  const both = [1, 2].every((d) => host.hv.domain(d)?.shutdownReason === 0);
  if (!both) ok = false;
  console.log(dim(`   both kernels powered off after ${rounds} round trips: ${both ? 'yes' : 'NO'} (virtual ${(host.sim.now / 1e9).toFixed(3)} s)`));
  for (const name of ['ping', 'pong']) host.xlSync(`destroy ${name}`);
  if (values.trace) writeFileSync(values.trace, host.sim.trace.toJSON());

  // ---------------------------------------------------------------- part 2
  for (const xenwatch of ['single', 'mtwatch'] as const) {
    console.log('');
    console.log(bold(`== ${xenwatch === 'single' ? 2 : 3}. the xenwatch stall, dom0 with ${xenwatch === 'single' ? "Linux's single xenwatch thread" : 'xenwatch multithreading (mtwatch)'}`));
    const res = await xenwatchStall.run({ seed, backend: 'netback', xenwatch });
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
    console.log(dim(`   ${res.ok ? 'all' : 'NOT all'} ${res.transcript.steps.reduce((n, s) => n + s.checks.length, 0)} checks hold; replay: ${res.replay}`));
    if (!res.ok) {
      ok = false;
      for (const f of res.failures) console.log(`   FAIL ${f}`);
    }
  }
  console.log('');
  console.log(dim(`demo done in ${((Date.now() - t0) / 1000).toFixed(1)} s real time (seed ${seed}); more: xenode scenario xenwatch-stall --backend blkback-grant --xenwatch single, xenode scenario dm-startup --legacy`));
  return ok ? 0 : 1;
}
