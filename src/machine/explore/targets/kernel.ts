// A kernel file as an explore target: runScenario boots it with its peers
// (kernels/ring.ts + dom0's producer, pingpong's two ends, others alone);
// the variants are the runtime's build variants. A run fails when the hang
// oracle fires or a domain does not power off.
//
// Workload: `default`. Swarm's load scales kernels/ring.ts's count (10..200
// items) and pingpong's rounds; other kernels ignore it.
import path from 'node:path';
import { runScenario } from '../../run_kernel.ts';
import { VARIANT_NAMES } from '../../../abi/variant.ts';
import { suspects } from '../../../xen/oracle.ts';
import { fnv1a, hex32, type Outcome, type RunOpts, type Target } from '../target.ts';

const SHUTDOWN = ['poweroff', 'reboot', 'suspend', 'crash', 'watchdog', 'soft_reset'];

export function kernelTarget(file: string): Target {
  const base = path.basename(file, '.ts');
  return {
    name: file,
    describe: `boot ${file} with its peers on a bare hypervisor`,
    variants: VARIANT_NAMES,
    buggy: VARIANT_NAMES.filter((v) => v !== 'fixed'),
    workloads: ['default'],
    async run(o: RunOpts): Promise<Outcome> {
      if (o.workload !== 'default') throw new Error(`${file}: unknown workload '${o.workload}' (known: default)`);
      let cmdline: string | undefined;
      if (o.load !== undefined && base === 'ring') cmdline = `count=${10 + Math.round(o.load * 190)}`;
      const r = await runScenario({ kernel: file, seed: o.seed, variant: o.variant, scheduler: o.scheduler, hostLog: () => {}, ...(cmdline ? { cmdline } : {}) });
      const failed = !r.ok || r.result.reason === 'hang';
      let signature = '';
      if (failed) {
        const sus = r.hv.domains().flatMap((d) => suspects(d, r.sim.now));
        if (r.result.reason === 'hang' && sus.length > 0) signature = sus.map((s) => `hang ${s.kind} d${s.domid}v${s.vcpu} ports ${s.ports.join(',') || '-'}`).join('; ');
        else if (r.result.reason === 'hang') signature = `hang ${r.result.hang.summary.replace(/\d+/g, 'N')}`;
        else
          signature = r.domains
            .filter((d) => d.shutdownReason !== 0)
            .map((d) => (d.shutdownReason === undefined ? `d${d.id} stalled ${d.vcpus[0]?.state ?? '?'}` : `d${d.id} ${SHUTDOWN[d.shutdownReason] ?? d.shutdownReason}`))
            .join('; ') + ` (${r.result.reason})`;
      }
      let con = 0x811c9dc5;
      for (const d of r.domains) con = fnv1a(d.console, con);
      const outcome = { ok: !failed, signature, summary: r.summary, fingerprint: `${r.sim.now} ${r.sim.steps} ${hex32(con)} ${r.result.reason}` };
      // The schedule is over: its guests' realms can serve the next one (realm_pool.ts).
      r.machine.releaseGuests();
      return outcome;
    },
  };
}
