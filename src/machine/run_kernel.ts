// `xenode run KERNEL|CFG`: one kernel on a full emulated host (dom0 with
// xenstored, xenconsoled, netback/blkback; the xl toolstack), run in virtual
// time until every guest has shut down, a hang, or the time limit.
//
//   KERNEL.ts   made into a config: name = the file's base name, memory = 32,
//               cmdline, plus the kernel's own `//xl:` lines (e.g. the vif a
//               netfront kernel needs:  //xl: vif = [ 'bridge=xenbr0' ])
//   CFG         an xl.cfg file, created as `xl create` would
// Two demo kernels need a peer that is not a device:
//   kernels/ring.ts      + dom0's producer thread (peers.ts)
//   kernels/pingpong.ts  + a second pingpong kernel (server d1, client d2)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunResult as SimRunResult, Scheduler, Sim } from '../sim/index.ts';
import type { Hypervisor } from '../xen/hypervisor.ts';
import type { Domain } from '../xen/domain.ts';
import { SHUTDOWN_NAMES } from '../abi/xen.ts';
import { Machine } from './machine.ts';
import { mapStack } from '../dom0/toolstack/loader.ts';
import { startRingProducer } from './peers.ts';
import { defaultNamer, explainHang, type Explanation } from './explain.ts';
import { decideHang, type Verdict } from './verdict.ts';

/** The Perfetto trace marks the hang on every halted guest vCPU, and the sends whose flows never ended. */
export function markHang(machine: Machine, summary: string): void {
  const tr = machine.sim.trace;
  for (const d of machine.hv.domains()) {
    if (d.host) continue;
    for (const v of d.vcpus) if (v.state === 'halted') tr.instant(d.id, v.vcpuId, `HANG: ${summary}`, { why: v.why }, 'hang');
    for (const [port, ids] of d.evtchn.flows.open) tr.instant(d.id, 0, `send to port ${port} never delivered (${ids.length} flow(s) open)`, { port }, 'hang');
  }
}

export interface RunKernelOptions {
  /** A kernel (.ts/.js) or an xl config file (anything else). */
  kernel: string;
  seed?: number;
  variant?: string;
  trace?: boolean;
  /** Extra command line for the (main) kernel. */
  cmdline?: string;
  onConsole?: (domid: number, text: string) => void;
  hostLog?: (line: string) => void;
  /** Virtual time limit from boot, ns (default 60 s). */
  until?: number;
  maxSteps?: number;
  /** Preemption at choice points: probability 1/n (default 2, 0 = never). Ignored with `scheduler`. */
  preemptOneIn?: number;
  /** Who answers scheduling decisions (`xenode explore`); default: random on the seed. */
  scheduler?: Scheduler;
}

export interface RunKernelResult {
  machine: Machine;
  sim: Sim;
  hv: Hypervisor;
  domains: Domain[];
  result: SimRunResult;
  /** true when every guest domain shut down with poweroff, or still runs at the limit with no hang. */
  ok: boolean;
  /** One-line outcome. */
  summary: string;
  /** On a hang: hang or stall after running on to the vCPU's timer (verdict.ts). */
  verdict: Verdict | undefined;
  /** Transient stalls the run recovered from. */
  stalls: Verdict[];
  /** On a hang: the numbered interleavings that lost the events (explain.ts). */
  explanations: Explanation[];
}

/** The `//xl: KEY = VALUE` lines of a kernel's source: the devices it needs. */
export function kernelCfgLines(source: string): string[] {
  return [...source.matchAll(/^\/\/xl:\s*(.+)$/gm)].map((m) => m[1]!.trim());
}

/**
 * A kernel file's `//xl:` lines by absolute path, read once per process as
 * kernels.ts builds its bundle once (`xenode explore` makes a config per
 * schedule; the source does not change under a running campaign).
 */
const cfgLinesCache = new Map<string, readonly string[]>();

function ownCfgLines(kernel: string): readonly string[] {
  const abs = path.resolve(kernel);
  let own = cfgLinesCache.get(abs);
  if (own) return own;
  try {
    own = kernelCfgLines(readFileSync(abs, 'utf8'));
  } catch {
    return []; // a missing file is reported by the build (not cached: it may appear)
  }
  cfgLinesCache.set(abs, own);
  return own;
}

/** An xl config for a kernel file (see the header). */
export function kernelConfig(kernel: string, name: string, cmdline: string): string {
  const own = ownCfgLines(kernel);
  // A kernel's own `extra` (its default command line) yields to --cmdline.
  const cmd = cmdline ? [`cmdline = "${cmdline.replace(/["\\]/g, '\\$&')}"`] : [];
  return [`name = "${name}"`, `kernel = "${kernel}"`, 'memory = 32', ...own, ...cmd].join('\n') + '\n';
}

export async function runScenario(o: RunKernelOptions): Promise<RunKernelResult> {
  const seed = o.seed ?? 1;
  // A crash's stack names the bundle (`name.js:L:C`): show the kernel's and the
  // runtime's .ts lines instead, with the bundle's source map (one bundle per run).
  const mapped = (domid: number, text: string): void => {
    const bundles = [...machine.bundles.values()];
    o.onConsole!(domid, bundles.length === 1 ? mapStack(text, bundles[0]!.map) : text);
  };
  const machine: Machine = new Machine({
    seed, trace: o.trace ?? false, xenpvQemu: false, variant: o.variant ?? 'fixed',
    ...(o.preemptOneIn !== undefined ? { preemptOneIn: o.preemptOneIn } : {}),
    ...(o.scheduler ? { scheduler: o.scheduler } : {}),
    ...(o.onConsole ? { onConsole: mapped } : {}),
    ...(o.hostLog ? { log: o.hostLog } : {}),
  });
  const { sim, hv } = machine;
  const start = sim.now;
  const isKernel = /\.(ts|js|mts|mjs)$/.test(o.kernel);
  const name = path.basename(o.kernel).replace(/\.[^.]+$/, '');
  const extra = o.cmdline ?? '';
  const create = async (file: string, text: string) => {
    machine.files.set(file, text);
    const r = await machine.xl(['create', file]);
    if (r.code !== 0) throw new Error(`xl create ${file} failed (${r.code}):\n${r.stderr}`);
  };
  if (!isKernel) {
    const r = await machine.xl(['create', o.kernel]);
    if (r.code !== 0) throw new Error(`xl create ${o.kernel} failed (${r.code}):\n${r.stderr}`);
  } else if (name === 'pingpong') {
    await create('pingpong-server.cfg', kernelConfig(o.kernel, 'pingpong-server', `role=server peer=2 rounds=1000 ${extra}`.trim()));
    await create('pingpong-client.cfg', kernelConfig(o.kernel, 'pingpong-client', `role=client peer=1 rounds=1000 ${extra}`.trim()));
  } else if (name === 'ring') {
    const count = Number(/count=(\d+)/.exec(extra)?.[1] ?? 50);
    await create('ring.cfg', kernelConfig(o.kernel, 'ring', `count=${count} ${extra}`.trim()));
    startRingProducer(hv, 1, { count });
  } else {
    await create(`${name}.cfg`, kernelConfig(o.kernel, name, extra));
  }
  const domains = hv.domains().filter((d) => d.id !== 0);
  const until = start + (o.until ?? 60e9);
  const maxSteps = o.maxSteps ?? 5_000_000;
  let result: SimRunResult;
  let verdict: Verdict | undefined;
  const stalls: Verdict[] = [];
  for (;;) {
    result = sim.run({ until, maxSteps });
    if (result.reason === 'hang') {
      const v = decideHang(sim, hv, result.hang);
      if (v.outcome === 'recovered' && sim.now < until) {
        stalls.push(v);
        continue;
      }
      verdict = v;
      break;
    }
    // Stop once every guest has shut down (dom0's daemons run on).
    if (result.reason !== 'stopped' || domains.every((d) => d.shutdownReason !== undefined)) break;
  }
  const explanations = result.reason === 'hang' ? explainHang(hv, defaultNamer(hv, (d, p) => machine.portDevice(d, p))) : [];
  if (result.reason === 'hang' && sim.trace.enabled) markHang(machine, result.hang.summary);
  const down = (d: Domain) => d.shutdownReason !== undefined;
  const ok = result.reason !== 'hang' && domains.every((d) => d.shutdownReason === 0 || (!down(d) && result.reason === 'until'));
  let summary: string;
  if (result.reason === 'hang') summary = `${verdict?.outcome ?? 'hang'}: ${result.hang.summary}`;
  else if (domains.every((d) => d.shutdownReason === 0)) summary = 'all domains powered off';
  else if (ok) summary = `still running after ${((sim.now - start) / 1e9).toFixed(3)} s (virtual; --until to run longer)`;
  else
    summary =
      domains
        .filter((d) => d.shutdownReason !== 0)
        .map((d) => `d${d.id} ${!down(d) ? `stalled (${d.vcpus[0]?.state}: ${d.vcpus[0]?.why})` : `shut down: ${SHUTDOWN_NAMES[d.shutdownReason!] ?? d.shutdownReason}`}`)
        .join('; ') + ` (${result.reason})`;
  return { machine, sim, hv, domains, result, ok, summary, verdict, stalls, explanations };
}
