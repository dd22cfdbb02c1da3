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
}

/** What the machine does when a domain is made and unmade (the builder and the teardown around the hypercalls). */
export interface DomainBuilder {
  /** XEN_DOMCTL_createdomain plus the PVH builder: the domain exists, built and paused. */
  create(domid: number, cfg: DomainConfig): void;
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

  xc_domain_getinfo(domid: number): DomInfo | undefined {
    const d = this.hv.domain(domid);
    return d ? domainInfo(d) : undefined;
  }

  xc_domain_create(domid: number, cfg: DomainConfig): void {
    this.builder.create(domid, cfg);
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
}
