// Host side: boot an example kernel with the peers it needs on a fresh
// simulator + hypervisor, run it, and describe the outcome. Used by
// `xenode run`, `xenode debug-keys`, the variant tests and the bench.
//   kernels/ring.ts      + dom0's producer thread (peers.ts)
//   kernels/pingpong.ts  + a second pingpong kernel (server d1, client d2)
//   anything else        alone (with a host dom0)
import path from 'node:path';
import { Sim, type RunResult } from '../sim/index.ts';
import { Hypervisor } from '../xen/hypervisor.ts';
import type { Domain } from '../xen/domain.ts';
import { buildKernel } from './kernels.ts';
import { bootBundle } from '../dom0/toolstack/xenguest.ts';
import { startRingProducer } from './peers.ts';

export interface ScenarioOptions {
  kernel: string;
  seed?: number;
  variant?: string;
  trace?: boolean;
  /** Extra command line for the (main) kernel. */
  cmdline?: string;
  onConsole?: (domid: number, text: string) => void;
  hostLog?: (line: string) => void;
  until?: number;
  maxSteps?: number;
}

export interface ScenarioResult {
  sim: Sim;
  hv: Hypervisor;
  domains: Domain[];
  result: RunResult;
  /** true when every guest domain shut down with poweroff. */
  ok: boolean;
  /** One-line outcome. */
  summary: string;
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const seed = o.seed ?? 1;
  const sim = new Sim({ seed, trace: o.trace ?? false });
  const hv = new Hypervisor(sim);
  hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 1 << 20, vcpus: 1, host: true });
  const bundle = await buildKernel(o.kernel, { variant: o.variant });
  const name = path.basename(o.kernel, '.ts');
  const domains: Domain[] = [];
  const boot = (nm: string, cmdline: string) => {
    const { domain, kernel } = bootBundle(hv, { bundle, name: nm, cmdline, ...(o.hostLog ? { hostLog: o.hostLog } : {}) });
    // A crash's stack names the bundle: show the kernel's and the runtime's .ts lines instead.
    if (o.onConsole) domain.onConsole = (t) => o.onConsole!(domain.id, kernel ? kernel.mapStack(t) : t);
    domains.push(domain);
    return domain;
  };
  const extra = o.cmdline ?? '';
  if (name === 'pingpong') {
    boot('pingpong-server', `role=server peer=2 rounds=1000 ${extra}`.trim());
    boot('pingpong-client', `role=client peer=1 port=2 rounds=1000 ${extra}`.trim());
  } else if (name === 'ring') {
    const count = Number(/count=(\d+)/.exec(extra)?.[1] ?? 50);
    const d = boot('ring', `count=${count} ${extra}`.trim());
    startRingProducer(hv, d.id, { count });
  } else {
    boot(name, extra);
  }
  const result = sim.run({ until: o.until ?? 30 * 86400e9, maxSteps: o.maxSteps ?? 5_000_000 });
  const ok = domains.every((d) => d.shutdownReason === 0);
  let summary: string;
  if (result.reason === 'hang') summary = `hang: ${result.hang.summary}`;
  else if (ok) summary = 'all domains powered off';
  else
    summary =
      domains
        .filter((d) => d.shutdownReason !== 0)
        .map((d) => `d${d.id} ${d.shutdownReason === undefined ? `stalled (${d.vcpus[0]?.state}: ${d.vcpus[0]?.why})` : `shut down: ${['poweroff', 'reboot', 'suspend', 'crash', 'watchdog', 'soft_reset'][d.shutdownReason] ?? d.shutdownReason}`}`)
        .join('; ') + ` (${result.reason})`;
  return { sim, hv, domains, result, ok, summary };
}
