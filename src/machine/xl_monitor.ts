// xl's per-domain monitor: the daemon `xl create` forks to wait for the
// domain's death (xl_vmcontrol.c: handle_domain_death), which applies the
// config's on_poweroff / on_reboot / on_crash. The hypervisor's shutdown hook
// calls shutdown(); the action runs as its own dom0 process (sim thread), so
// the hypervisor call that shut the domain down returns before the destroy
// starts (the real daemon, too, runs only once VIRQ_DOM_EXC wakes it).
import { SHUTDOWN_NAMES } from '../abi/xen.ts';
import { SimThread, type Co, type Sim } from '../sim/index.ts';
import type { DomainConfig } from '../dom0/toolstack/cfg.ts';
import type { Libxl } from '../dom0/toolstack/libxl.ts';
import type { XlResult } from '../dom0/toolstack/xl.ts';

/** What the monitor needs of its machine. */
export interface XlMonitorHost {
  sim: Sim;
  libxl: Libxl;
  /** Whether the monitor runs (MachineOptions.monitor); off, a shut-down domain is only noted. */
  enabled: boolean;
  diag(line: string): void;
  allocUserPid(): number;
  /** Record what the monitor did in the machine's command history. */
  remember(entry: { cmd: string; t: number; result: XlResult }): void;
}

/** The action a config names for a shutdown reason (SHUTDOWN_poweroff 0, reboot 1, suspend 2, crash 3, watchdog 4). */
export function shutdownAction(cfg: DomainConfig | undefined, reason: number): string {
  if (!cfg) return 'preserve';
  if (reason === 0) return cfg.on_poweroff;
  if (reason === 1) return cfg.on_reboot;
  if (reason === 3 || reason === 4) return cfg.on_crash;
  return 'preserve';
}

/**
 * `Domain N has shut down, reason code R` → the configured action.
 * destroy / coredump-destroy: destroy it; restart / rename-restart /
 * coredump-restart: destroy and create it again from the same config;
 * preserve (and soft-reset, and a suspend): leave it shut down.
 */
export function xlMonitorShutdown(h: XlMonitorHost, domid: number, reason: number): void {
  if (!h.enabled) {
    h.diag(`d${domid} shut down (reason ${reason}); no xl monitor`);
    return;
  }
  // libxl keeps each domain's config (libxl-json userdata) until its destroy
  // finishes; xl's monitor reads it back before acting (xl_vmcontrol.c:
  // reload_domain_config → libxl_retrieve_domain_configuration), so a restart
  // uses the config libxl holds, and the machine keeps no copy of its own.
  const cfg = h.libxl.configs.get(domid);
  const why = SHUTDOWN_NAMES[reason] ?? String(reason);
  const action = shutdownAction(cfg, reason);
  h.diag(`xl: Domain ${domid} has shut down, reason code ${reason} (${why}); action: ${action}`);
  if (action === 'preserve' || action === 'soft-reset' || reason === 2) return;
  const restart = action === 'restart' || action === 'rename-restart' || action === 'coredump-restart';
  const libxl = h.libxl;
  new SimThread(h.sim, h.allocUserPid(), 'xl', function* (): Co {
    yield* libxl.domainDestroy(domid);
    if (restart && cfg) {
      const r = yield* libxl.domainCreate(cfg);
      h.diag(`xl: Domain ${domid} restarted as ${r.domid} (rc ${r.rc})`);
    }
    h.remember({ cmd: `xl (monitor of d${domid}): ${restart ? 'restart' : 'destroy'}`, t: h.sim.now, result: { code: 0, stdout: '', stderr: libxl.log.splice(0).map((l) => l + '\n').join('') } });
  }, ['entry_SYSCALL_64']);
}
