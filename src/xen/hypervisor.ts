// The emulated hypervisor: the domain table and the host-facing controls
// (create, destroy, pause, debug keys, quiescent report). Everything that
// runs is a sim Task; the hypervisor itself has no thread.
//
//   const hv = new Hypervisor(sim);
//   const dom0 = hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 2 << 20, vcpus: 1, host: true });
//   const d1 = hv.createDomain({ name: 'mirage', memKiB: 32 << 10, vcpus: 1 });
//   d1.vcpus[0].start(entry);          // the kernel loader, with entry from the guest
//   dom0.evtchn.allocUnbound(d1.id);   // host API: same rules and codes as the hypercalls
import { XEN_E } from '../abi/xen.ts';
import type { Sim, Trace } from '../sim/index.ts';
import { dumpEvtchn } from './debugkeys.ts';
import { Domain, type CreateDomainConfig } from './domain.ts';
import { hangOracle, suspects } from './oracle.ts';
import { Recorder } from './recorder.ts';
import { ConsoleRing } from './conring.ts';
import { handleKeypress, type KeyHost } from './keyhandler.ts';

export interface HypervisorOptions {
  /** Bytes of the console ring (Xen's conring_size=; default 16 KiB). */
  conringSize?: number;
  /** Wallclock at system time 0, in ns since the epoch (shared_info wc_*). Default 2020-06-15T00:00:00Z. */
  wallclockBootNs?: number;
  /** Install the hang oracle on the sim (default true). */
  hangOracle?: boolean;
  /** Keep the flight recorder of the last steps (default true; the hang explanation needs it). */
  record?: boolean;
  /** Physical CPUs of the host (`xl info` nr_cpus; default 4: one socket, one thread per core, one NUMA node). */
  nrCpus?: number;
  /** The host's RAM in KiB (`xl info` total_memory; default 4 GiB). */
  memKiB?: number;
}

/** Xen heap frames (shared_info pages) are numbered from here: above 4 GiB, apart from any guest frame number. */
export const XENHEAP_BASE_MFN = 0x100000;


export class Hypervisor {
  readonly trace: Trace;
  /** The flight recorder (recorder.ts), or undefined when `record: false`. */
  readonly recorder: Recorder | undefined;
  /** Domain table by domid (dying zombies included until reaped). */
  readonly doms: (Domain | undefined)[] = [];
  readonly wallclockBootNs: number;
  /** Bugs of ours caught at the door (never a guest's fault): tests assert this stays empty. */
  readonly internalErrors: string[] = [];
  /** Events raised host-wide: EVTCHNOP_send to a bound port and VIRQs (the scale bench's events/s). */
  evtchnSends = 0;
  /** Xen's console ring (conring.ts): what `xl dmesg` reads; bounded, oldest bytes dropped. */
  readonly conring: ConsoleRing;
  /** Called on every domain shutdown (the toolstack's VIRQ_DOM_EXC listener may prefer the event). */
  onShutdown: ((d: Domain, reason: number) => void) | undefined;
  /** Called when a dying domain is finally removed. */
  onReap: ((domid: number) => void) | undefined;
  /** Physical CPUs (0 .. nrCpus-1), all online, all in cpupool 0 under credit2. */
  readonly nrCpus: number;
  /** Host RAM, KiB. */
  readonly memKiB: number;
  private nextDomid = 1;
  /** Domains touched since the hang oracle last looked (Domain.touch, oracle.ts); undefined without the oracle (nothing kept). */
  readonly oracleDirty: Domain[] | undefined;
  /** Where the next vCPU is placed (pickCpu). */
  private cpuCursor = 0;
  private nextXenFrame = XENHEAP_BASE_MFN;

  constructor(readonly sim: Sim, opts: HypervisorOptions = {}) {
    this.trace = sim.trace;
    this.wallclockBootNs = opts.wallclockBootNs ?? Date.UTC(2020, 5, 15) * 1e6;
    this.recorder = (opts.record ?? true) ? new Recorder() : undefined;
    this.conring = new ConsoleRing(opts.conringSize);
    this.nrCpus = opts.nrCpus ?? 4;
    if (!Number.isInteger(this.nrCpus) || this.nrCpus < 1 || this.nrCpus > 32) throw new Error(`nrCpus must be 1..32, got ${opts.nrCpus}`);
    this.memKiB = opts.memKiB ?? 4 << 20;
    if (!Number.isInteger(this.memKiB) || this.memKiB < 4096) throw new Error(`memKiB must be an integer >= 4096, got ${opts.memKiB}`);
    this.oracleDirty = (opts.hangOracle ?? true) ? [] : undefined;
    if (this.oracleDirty) sim.oracles.push(hangOracle(this, this.oracleDirty));
  }

  /** Create a domain. Throws on a bad config or a taken domid (a host bug, not a guest's). */
  createDomain(cfg: CreateDomainConfig): Domain {
    const bad = Domain.validConfig(cfg);
    if (bad) throw new Error(`createDomain: ${bad}`);
    let id = cfg.domid;
    if (id === undefined) {
      while (this.doms[this.nextDomid]) this.nextDomid++;
      id = this.nextDomid++;
    } else if (!Number.isInteger(id) || id < 0 || id >= 0x7ff0) {
      throw new Error(`createDomain: bad domid ${id}`);
    } else if (this.doms[id]) {
      throw new Error(`createDomain: domain ${id} exists`);
    }
    const d = new Domain(this, id, cfg);
    this.doms[id] = d;
    this.ndoms++;
    d.touch();
    if (this.trace.enabled) {
      this.trace.processName(id, `d${id} ${cfg.name}`);
      for (const v of d.vcpus) this.trace.threadName(id, v.vcpuId, `vcpu${v.vcpuId}`);
    }
    return d;
  }

  /**
   * The pCPU a new vCPU is placed on (v->processor): the next one round-robin,
   * as sched_init_vcpu's cpumask_cycle does for a domain's later vCPUs. xenode
   * never migrates a vCPU, so this is where `xl vcpu-list` and the 'q' and
   * 'r' keys show it; dom0's vCPUs land on CPUs 0, 1, 2, ... as at boot.
   */
  pickCpu(): number {
    const cpu = this.cpuCursor;
    this.cpuCursor = (this.cpuCursor + 1) % this.nrCpus;
    return cpu;
  }

  /** A frame of Xen's own heap (a domain's shared_info page, which the 'q' key lists as a XenPage). */
  allocXenFrame(): number {
    return this.nextXenFrame++;
  }

  /**
   * Free host pages (XEN_SYSCTL_physinfo free_pages): RAM less every domain's
   * pages and Xen's own heap frames. xenode does not refuse a domain that
   * does not fit, so this floors at 0.
   */
  freePages(): number {
    let used = 0;
    // Each domain's pages and its one Xen heap frame (shared_info), freed with it.
    for (const d of this.domains()) used += Math.floor(d.totKiB / 4) + 1;
    return Math.max(0, Math.floor(this.memKiB / 4) - used);
  }

  /** A domain by id (dying ones included), or undefined. */
  domain(id: number): Domain | undefined {
    return id >>> 0 === id ? this.doms[id] : undefined;
  }

  /** All domains, ascending domid. */
  domains(): Domain[] {
    return this.doms.filter((d): d is Domain => d !== undefined);
  }

  /** Domains in the table (dying zombies included). */
  get domainCount(): number {
    return this.ndoms;
  }
  private ndoms = 0;

  /** The domids in order, without building an array of the domains. */
  *domainIds(): Generator<number> {
    const doms = this.doms;
    for (let i = 0; i < doms.length; i++) if (doms[i] !== undefined) yield i;
  }

  /**
   * Destroy: the domain becomes dying and paused; vCPUs go down; its event
   * channels close (peers go UNBOUND); the mappings it holds are released.
   * It stays listed while other domains still map its grants.
   */
  destroyDomain(id: number): number {
    const d = this.domain(id);
    if (!d) return -XEN_E.ESRCH;
    if (d.dying) return 0;
    d.dying = true;
    d.paused = true;
    for (const v of d.vcpus) v.down('destroyed');
    d.evtchn.closeAll();
    d.gnttab.releaseAll();
    if (d.gnttab.foreignMapCount === 0) this.reap(id);
    else this.xenLog(`d${id}: dying, ${d.gnttab.foreignMapCount} page(s) still mapped by other domains`);
    return 0;
  }

  /** Remove a dying domain whose last foreign mapping went. */
  reap(id: number): void {
    const d = this.doms[id];
    if (!d || !d.dying) return;
    if (this.doms[id] !== undefined) this.ndoms--;
    this.doms[id] = undefined;
    this.onReap?.(id);
  }

  pause(id: number): number {
    const d = this.domain(id);
    if (!d) return -XEN_E.ESRCH;
    d.paused = true;
    return 0;
  }

  unpause(id: number): number {
    const d = this.domain(id);
    if (!d) return -XEN_E.ESRCH;
    if (d.dying) return -XEN_E.EINVAL;
    d.paused = false;
    d.touch();
    for (const v of d.vcpus) if (v.state === 'runnable') this.sim.ready(v.task);
    return 0;
  }

  /**
   * What the keyhandler of `key` would print, without touching the console
   * ring: for a report or a check that inspects the state. Unknown keys: ''.
   */
  debugKey(key: string): string {
    return handleKeypress(key, this.domains(), this.keyHost(false));
  }

  /**
   * XEN_SYSCTL_debug_keys (`xl debug-keys KEYS`): each key's handler prints
   * into the console ring, and 'q' notifies every guest vCPU with VIRQ_DEBUG
   * as Xen's dump_domains does.
   */
  debugKeys(keys: string): void {
    for (const k of keys) this.conring.puts(handleKeypress(k, this.domains(), this.keyHost(true)));
  }

  private keyHost(sideEffects: boolean): KeyHost {
    return { now: this.sim.clock.now, nrCpus: this.nrCpus, sideEffects };
  }

  /** Xen's own console lines still in the ring (without the "(XEN) " prefix). */
  get xenConsole(): string[] {
    return this.conring.lines();
  }

  /** A human report of the state when the system is quiet: vCPUs, suspicious ports, the 'e' dump. */
  quiescentReport(): string {
    const lines: string[] = [];
    for (const d of this.domains()) {
      const vs = d.vcpus.map((v) => `v${v.vcpuId}=${v.state}${v.why ? ` (${v.why})` : ''} IF=${v.IF ? 1 : 0} upcall_pending=${v.upcallPending ? 1 : 0}` +
        (v.timerDeadline >= 0 ? ` timer@${v.timerDeadline}` : ''));
      lines.push(`d${d.id} ${d.name} [${d.stateFlags()}]: ${d.host ? 'host' : vs.join('; ')}`);
      for (const s of suspects(d, this.sim.clock.now)) lines.push(`  ${s.line}`);
    }
    return `${lines.join('\n')}\n${dumpEvtchn(this.domains())}`;
  }

  /** A line on Xen's console. */
  xenLog(msg: string): void {
    this.conring.puts(`(XEN) ${msg}\n`);
    if (this.trace.enabled) this.trace.instant(0, 0, msg, undefined, 'xen');
  }
}
