// A domain: guest memory (physmap), the shared_info page, vCPUs, event
// channels, grant table, HVM params, console, and the lifecycle flags that
// `xl list` shows (r b p s c d).
//
// shared_info is a hypervisor-owned ArrayBuffer. The guest sees it only after
// XENMEM_add_to_physmap(XENMAPSPACE_shared_info, gpfn), which replaces that
// gpfn's frame by this very buffer: both sides then touch the same bytes.
//
// Lifecycle. destroy (Hypervisor.destroyDomain) makes the domain *dying*: its
// vCPUs stop, its event channels close (peers go UNBOUND), its own foreign
// mappings are released. While another domain still maps one of its grants
// (netback holding a zerocopy packet), the domain stays in the domain list,
// paused and dying: the `(null) … --p--d` zombie of `xl list`. It is reaped
// when the last foreign mapping goes.
import {
  HVM_NR_PARAMS, HVM_PARAM, PAGE_SIZE, SHARED_INFO, SHUTDOWN, VIRQ, XEN_LEGACY_MAX_VCPUS, XEN_E,
} from '../abi/xen.ts';
import { ConsoleBuffer } from './console_buffer.ts';
import { EventChannels, type PortHandler } from './evtchn.ts';
import { GrantTable } from './gnttab.ts';
import type { Hypervisor } from './hypervisor.ts';
import { Physmap } from './physmap.ts';
import { Vcpu } from './vcpu.ts';

/** What XEN_DOMCTL_createdomain takes (xen/include/public/domctl.h: struct xen_domctl_createdomain, the subset we model). */
export interface CreateDomainConfig {
  domid?: number;
  name: string;
  memKiB: number;
  vcpus: number;
  /** dom0-like: the kernel is host-side TypeScript (no vm guest); privileged. */
  host?: boolean;
  /**
   * max_evtchn_port: the highest port the domain may allocate (xl
   * max_event_channels - 1). Default: no limit beyond the ABI's (4095 for
   * 2L, 131071 for FIFO), as for Xen's dom0.
   */
  maxEvtchnPort?: number;
  /** xen_domain_handle_t: the toolstack's uuid ("8-4-4-4-12" hex); all zeros for dom0, as Xen's. */
  handle?: string;
}

/** The shared_info page and typed views of it. */
export class SharedInfo {
  readonly buf = new ArrayBuffer(PAGE_SIZE);
  readonly u8 = new Uint8Array(this.buf);
  readonly u32 = new Uint32Array(this.buf);
  readonly dv = new DataView(this.buf);
}

export class Domain {
  readonly name: string;
  readonly memKiB: number;
  readonly host: boolean;
  /** dom0 privilege: may operate on other domains' ports and grants. */
  readonly privileged: boolean;
  readonly physmap: Physmap;
  readonly shared = new SharedInfo();
  readonly vcpus: Vcpu[];
  readonly evtchn: EventChannels;
  readonly gnttab: GrantTable;
  /**
   * HVM params (u64 values). Array.from, not `new Array(n).fill(0n)`: V8's
   * fill builtin asks whether the array's prototype is the Array.prototype
   * of any realm, a walk over every guest realm of the host per domain made.
   */
  readonly params: bigint[] = Array.from({ length: HVM_NR_PARAMS }, () => 0n);
  /** CALLBACK_IRQ of type VECTOR: the global callback vector (0 = none). */
  callbackVector = 0;
  /** d->poll_mask: vCPUs blocked in SCHEDOP_poll. */
  pollMask = 0;
  /** In hv.oracleDirty: the hang oracle looks at this domain again at the next idle step (oracle.ts). */
  oracleDirty = false;
  paused = false;
  dying = false;
  shutdownReason: number | undefined;
  /** SCHEDOP_shutdown_code. */
  shutdownCode: number | undefined;
  /** CONSOLEIO_write output, bounded (console_buffer.ts: the middle goes past the limit). */
  readonly consoleBuffer = new ConsoleBuffer();
  onConsole: ((text: string) => void) | undefined;
  /** Where gnttab setup_table / add_to_physmap put the shared_info page, if mapped. */
  sharedInfoGpfn = -1;
  /** xen_domain_handle_t as "8-4-4-4-12" hex. */
  readonly handle: string;
  /** The Xen heap frame of shared_info (the 'q' key's XenPage line). */
  readonly sharedInfoMfn: number;

  constructor(readonly hv: Hypervisor, readonly id: number, cfg: CreateDomainConfig) {
    this.name = cfg.name;
    this.memKiB = cfg.memKiB;
    this.host = cfg.host ?? false;
    this.privileged = this.host;
    this.handle = cfg.handle ?? '00000000-0000-0000-0000-000000000000';
    this.sharedInfoMfn = hv.allocXenFrame();
    this.physmap = new Physmap(Math.floor(cfg.memKiB / 4));
    this.vcpus = [];
    for (let i = 0; i < cfg.vcpus; i++) this.vcpus.push(new Vcpu(this, i));
    this.evtchn = new EventChannels(this, cfg.maxEvtchnPort);
    this.gnttab = new GrantTable(this);
    // Wallclock at boot (system time 0); guests add vcpu_info.time.system_time.
    const dv = this.shared.dv;
    const wc = hv.wallclockBootNs;
    const sec = Math.floor(wc / 1e9);
    dv.setUint32(SHARED_INFO.wc_version, 2, true);
    dv.setUint32(SHARED_INFO.wc_sec, sec >>> 0, true);
    dv.setUint32(SHARED_INFO.wc_nsec, wc - sec * 1e9, true);
    dv.setUint32(SHARED_INFO.wc_sec_hi, Math.floor(sec / 4294967296) >>> 0, true);
    if (this.host) for (const v of this.vcpus) {
      v.state = 'running';
      v.started = true;
      v.why = '';
    }
  }

  static validConfig(cfg: CreateDomainConfig): string | undefined {
    if (!cfg || typeof cfg.name !== 'string') return 'name required';
    if (!Number.isInteger(cfg.vcpus) || cfg.vcpus < 1 || cfg.vcpus > XEN_LEGACY_MAX_VCPUS) return `vcpus must be 1..${XEN_LEGACY_MAX_VCPUS}`;
    if (!Number.isInteger(cfg.memKiB) || cfg.memKiB < 4) return 'memKiB must be an integer >= 4';
    if (cfg.handle !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(cfg.handle)) return 'handle must be a lowercase uuid';
    if (cfg.maxEvtchnPort !== undefined && (!Number.isInteger(cfg.maxEvtchnPort) || cfg.maxEvtchnPort < 1)) return 'maxEvtchnPort must be an integer >= 1';
    return undefined;
  }


  getParam(index: number): bigint | number {
    if (index >>> 0 !== index || index >= HVM_NR_PARAMS) return -XEN_E.EINVAL;
    return this.params[index]!;
  }

  setParam(index: number, value: bigint | number): number {
    if (index >>> 0 !== index || index >= HVM_NR_PARAMS) return -XEN_E.EINVAL;
    const v = BigInt.asUintN(64, BigInt(value));
    this.params[index] = v;
    if (index === HVM_PARAM.CALLBACK_IRQ) {
      const type = Number(v >> 56n);
      this.callbackVector = type === 2 ? Number(v & 0xffn) : 0;
      // Kick every vCPU so a pending upcall is seen with the new route.
      if (this.callbackVector !== 0) for (const vc of this.vcpus) if (vc.upcallPending) vc.assertEvtchnIrq();
    }
    return 0;
  }

  /** CONSOLEIO_write output as `xl console` shows it: the boot lines and the newest (console_buffer.ts). */
  get console(): string {
    return this.consoleBuffer.read();
  }

  /** Console output (CONSOLEIO_write): kept bounded; `onConsole` sees every byte. */
  writeConsole(text: string): void {
    this.consoleBuffer.append(text);
    this.onConsole?.(text);
  }

  /**
   * What the hang oracle concluded about this domain may be stale: one of its
   * vCPUs ran, or the hypervisor changed one of its event channels or let it
   * run again. The oracle looks at touched domains only (oracle.ts).
   */
  touch(): void {
    const dirty = this.hv.oracleDirty;
    if (this.oracleDirty || !dirty) return;
    this.oracleDirty = true;
    dirty.push(this);
  }

  /** evtchn_check_pollers: wake vCPUs polling `port`. */
  checkPollers(port: number): void {
    for (const v of this.vcpus) {
      if ((this.pollMask & (1 << v.vcpuId)) !== 0 && v.pollPorts?.includes(port)) v.wake(`poll port ${port}`);
    }
  }

  /** SCHEDOP_shutdown (or a host request): vCPUs stop, dom0 gets VIRQ_DOM_EXC. */
  shutdown(reason: number): void {
    if (this.shutdownReason !== undefined || this.dying) return;
    this.shutdownReason = reason;
    for (const v of this.vcpus) if (!this.host) v.down(`shutdown (${shutdownName(reason)})`);
    this.hv.xenLog(`d${this.id}: shutdown: ${shutdownName(reason)}`);
    if (this.id !== 0) this.hv.domain(0)?.evtchn.sendVirq(VIRQ.DOM_EXC);
    this.hv.onShutdown?.(this, reason);
  }

  /** domain_crash: log it and shut down with reason crash. */
  crash(why: string): void {
    this.hv.xenLog(`domain_crash called for d${this.id}: ${why}`);
    this.shutdown(SHUTDOWN.crash);
  }

  /** `xl list` State column: r b p s c d. */
  stateFlags(): string {
    const running = this.host || this.vcpus.some((v) => v.state === 'running' || v.state === 'runnable');
    const blocked = !running && this.vcpus.some((v) => v.state === 'halted');
    const sd = this.shutdownReason;
    return (
      (running && !this.paused && sd === undefined && !this.dying ? 'r' : '-') +
      (blocked && !this.paused && sd === undefined && !this.dying ? 'b' : '-') +
      (this.paused ? 'p' : '-') +
      (sd !== undefined && sd !== SHUTDOWN.crash ? 's' : '-') +
      (sd === SHUTDOWN.crash ? 'c' : '-') +
      (this.dying ? 'd' : '-')
    );
  }

  /** Memory still held, in KiB: all of it, or for a dying domain only its foreign-mapped pages. */
  get totKiB(): number {
    return this.dying ? this.gnttab.foreignMapCount * 4 : this.memKiB;
  }
}

export function shutdownName(reason: number): string {
  for (const [k, v] of Object.entries(SHUTDOWN)) if (v === reason) return k;
  return `reason ${reason}`;
}
