// The hypervisor as the toolstack sees it: a libxc-like handle (tools/libs/ctrl:
// xc_domain.c, and libxenguest's domain builder behind xc_dom_build). libxl
// talks to Xen only through this interface (XcInterface), so its tests can
// drive it with a fake hypervisor; `Xc` is the real one over src/xen.
//
// Domain creation is split as in Xen: xc_domain_create makes the empty,
// paused domain (XEN_DOMCTL_createdomain) and the builder loads the kernel and
// lays out the start of day (xenguest.ts); here both happen in the machine's
// builder at create time, and xc_dom_build only hands libxl what was built.
import type { Co } from '../../sim/index.ts';
import type { Domain, Hypervisor } from '../../xen/index.ts';
import type { DomainConfig } from './cfg.ts';

/** What `xl list` needs from the hypervisor (xc_domaininfo_t). */
export interface DomInfo {
  domid: number;
  /** current_memkb */
  memKiB: number;
  outstandingKiB: number;
  vcpus: number;
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  shutdownReason: number;
  dying: boolean;
  cpuTimeNs: number;
}

/** XEN_SYSCTL_physinfo as libxl_physinfo carries it (the fields `xl info` and `xl vcpu-list` read). */
export interface PhysInfo {
  nrCpus: number;
  maxCpuId: number;
  nrNodes: number;
  coresPerSocket: number;
  threadsPerCore: number;
  cpuKhz: number;
  /** x86 CPUID feature words (hw_cap[8]). */
  hwCap: number[];
  capPv: boolean;
  capHvm: boolean;
  capHap: boolean;
  capShadow: boolean;
  capGnttabV1: boolean;
  capGnttabV2: boolean;
  totalPages: number;
  freePages: number;
  outstandingPages: number;
  /** CPUs in no cpupool (libxl_get_freecpus). */
  freeCpus: number;
}

/** XEN_DOMCTL_getvcpuinfo + getvcpuaffinity (libxl_vcpuinfo). */
export interface VcpuInfo {
  vcpuid: number;
  cpu: number;
  online: boolean;
  blocked: boolean;
  running: boolean;
  cpuTimeNs: number;
  /** Hard and soft affinity: CPU numbers. */
  hard: number[];
  soft: number[];
}

/** What the domain builder leaves for libxl__build_post (the store and console rings). */
export interface BuiltDomain {
  storeGfn: number;
  /** The guest's unbound store event channel (remote = dom0). */
  storePort: number;
  consoleGfn?: number;
  consolePort?: number;
}

/** The hypervisor and domain builder, as libxl sees them (libxc). */
export interface XcInterface {
  /** xc_domain_getinfolist: every domain, dying ones included. */
  xc_domain_getinfolist(): DomInfo[];
  /** The domids of every domain, dying ones included, in domid order (xc_domain_getinfolist without building each info). */
  xc_domain_ids(): Iterable<number>;
  /** How many domains exist, dying ones included (xc_physinfo-like; O(1)). */
  xc_domain_count(): number;
  /** xc_domain_getinfo of one domain, or undefined if there is none. */
  xc_domain_getinfo(domid: number): DomInfo | undefined;
  /** xc_domain_create: an empty, paused domain with exactly this domid. */
  xc_domain_create(domid: number, cfg: DomainConfig, uuid: string): void;
  /** Load the kernel and set up the start of day (libxl__build_pvh → xc_dom_*); the domain stays paused. */
  xc_dom_build(domid: number, cfg: DomainConfig): Co<BuiltDomain>;
  xc_domain_unpause(domid: number): void;
  xc_domain_pause(domid: number): void;
  /** xc_domain_destroy: 0, or -errno (ESRCH: no such domain any more). The domain may stay dying while its pages are mapped elsewhere. */
  xc_domain_destroy(domid: number): number;
  /** xc_physinfo (absent: `libxl_physinfo failed.`). */
  xc_physinfo?(): PhysInfo;
  /** xc_vcpu_getinfo for each vCPU, or undefined if there is no such domain. */
  xc_vcpu_getinfo?(domid: number): VcpuInfo[] | undefined;
}

/** What the machine does when a domain is made and unmade (the builder and the teardown around the hypercalls). */
export interface DomainBuilder {
  /** XEN_DOMCTL_createdomain plus the PVH builder: the domain exists, built and paused. */
  create(domid: number, cfg: DomainConfig, uuid?: string): void;
  /** What create() built, or undefined if this builder did not make the domain. */
  built(domid: number): BuiltDomain | undefined;
  /** XEN_DOMCTL_destroydomain and what follows it (VIRQ_DOM_EXC: xenstored releases the domain): 0 or -errno. */
  destroy(domid: number): number;
}

/** xc_domaininfo_t of a domain. */
export function domainInfo(d: Domain): DomInfo {
  const flags = d.stateFlags();
  return {
    domid: d.id,
    memKiB: d.totKiB,
    outstandingKiB: 0,
    vcpus: d.vcpus.length,
    running: flags[0] === 'r',
    blocked: flags[1] === 'b',
    paused: d.paused,
    shutdown: d.shutdownReason !== undefined,
    shutdownReason: d.shutdownReason ?? 0,
    dying: d.dying,
    // Virtual time stands still while code runs (it advances only when
    // everything is blocked), so no domain accumulates CPU time: 0.0 is
    // the honest figure, not an invented one.
    cpuTimeNs: 0,
  };
}

/** libxc over the emulated hypervisor. */
export class Xc implements XcInterface {
  constructor(
    private readonly hv: Hypervisor,
    private readonly builder: DomainBuilder,
  ) {}

  xc_domain_getinfolist(): DomInfo[] {
    return this.hv.domains().map(domainInfo);
  }

  xc_domain_ids(): Iterable<number> {
    return this.hv.domainIds();
  }

  xc_domain_count(): number {
    return this.hv.domainCount;
  }

  xc_domain_getinfo(domid: number): DomInfo | undefined {
    const d = this.hv.domain(domid);
    return d ? domainInfo(d) : undefined;
  }

  xc_domain_create(domid: number, cfg: DomainConfig, uuid: string): void {
    this.builder.create(domid, cfg, uuid);
  }

  *xc_dom_build(domid: number): Co<BuiltDomain> {
    const b = this.builder.built(domid);
    if (!b) throw new Error(`domain ${domid} was not created by this host`);
    return b;
  }

  xc_domain_unpause(domid: number): void {
    this.hv.unpause(domid);
  }

  xc_domain_pause(domid: number): void {
    this.hv.pause(domid);
  }

  xc_domain_destroy(domid: number): number {
    return this.builder.destroy(domid);
  }

  xc_physinfo(): PhysInfo {
    const hv = this.hv;
    return {
      nrCpus: hv.nrCpus,
      maxCpuId: hv.nrCpus - 1,
      // One socket of nrCpus cores, one thread each, one NUMA node (the 'r' key's topology).
      nrNodes: 1,
      coresPerSocket: hv.nrCpus,
      threadsPerCore: 1,
      // The guests' TSC runs at 1 GHz (vcpu_time_info mul 2^31, shift 1: one tick per ns).
      cpuKhz: 1_000_000,
      // xenode models no CPUID: no feature bits.
      hwCap: [0, 0, 0, 0, 0, 0, 0, 0],
      // PVH guests only (an HVM container with HAP); grant tables v1 only.
      capPv: false,
      capHvm: true,
      capHap: true,
      capShadow: false,
      capGnttabV1: true,
      capGnttabV2: false,
      totalPages: Math.floor(hv.memKiB / 4),
      freePages: hv.freePages(),
      outstandingPages: 0,
      freeCpus: 0,
    };
  }

  xc_vcpu_getinfo(domid: number): VcpuInfo[] | undefined {
    const d = this.hv.domain(domid);
    if (!d) return undefined;
    const all = Array.from({ length: this.hv.nrCpus }, (_, i) => i);
    return d.vcpus.map((v) => ({
      vcpuid: v.vcpuId,
      cpu: v.processor,
      online: v.state !== 'down',
      blocked: v.state === 'halted',
      running: v.state === 'running' && !d.paused,
      // As domainInfo: no CPU time accumulates in virtual time.
      cpuTimeNs: 0,
      hard: all,
      soft: all,
    }));
  }
}
