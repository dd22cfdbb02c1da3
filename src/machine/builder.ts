// The domain builder behind xc.ts (DomainBuilder): what XEN_DOMCTL_createdomain
// plus libxenguest's PVH builder do on a real host, and what
// XEN_DOMCTL_destroydomain sets off in dom0. libxl reaches it only through
// Xc, so the toolstack never sees the hypervisor's or xenstored's objects.
//
// xenstored maps a guest's store ring the way cxenstored does: dom0 maps the
// guest's grant ref 1 (GNTTAB_RESERVED_XENSTORE, seeded by the builder) and
// binds an interdomain port to the guest's store port. On destroy, dom0's
// daemons do what VIRQ_DOM_EXC makes them do: xenconsoled lets go of the
// console ring at the next @releaseDomain, xenstored releases the connection
// (firing @releaseDomain) and dom0 unmaps the store ring, so the domain can go
// unless a backend still maps its pages (then `xl list` shows the
// `(null) … --p--d` zombie).
import { LAYOUT } from '../abi/pvh.ts';
import type { Hypervisor } from '../xen/hypervisor.ts';
import type { Domain } from '../xen/domain.ts';
import type { Xenstored } from '../dom0/xenstored/xenstored.ts';
import type { Xenconsoled } from '../dom0/xenconsoled.ts';
import type { XenstoreRings } from '../dom0/kernel/xenstore_rings.ts';
import type { DomainConfig } from '../dom0/toolstack/cfg.ts';
import type { BuiltDomain, DomainBuilder } from '../dom0/toolstack/xc.ts';
import { bootBundle, setupRings } from '../dom0/toolstack/xenguest.ts';
import type { KernelBundle } from './kernels.ts';
import type { LoadedKernel } from '../dom0/toolstack/loader.ts';

/** The parts of one machine the builder wires a new domain to. */
export interface MachineBuilderDeps {
  hv: Hypervisor;
  xsd: Xenstored;
  consoled: Xenconsoled;
  storeRings: XenstoreRings;
  /** The built kernel a config names, in the config's variant (undefined: not built yet). */
  bundleFor(cfg: DomainConfig): KernelBundle | undefined;
  /** Host diagnostics (the loader's lines). */
  hostLog(line: string): void;
  /** CONSOLEIO_write output as it arrives. */
  onConsole?: ((domid: number, text: string) => void) | undefined;
}

/** One machine's DomainBuilder: builds domains in its hypervisor and tells dom0's daemons. */
export class MachineBuilder implements DomainBuilder {
  /** What create() built (store and console rings), until destroy(). Written only by create/destroy. */
  private readonly made = new Map<number, BuiltDomain>();

  /** Every guest kernel booted (their realms, for releaseGuests). */
  private readonly guests: LoadedKernel[] = [];

  constructor(private readonly m: MachineBuilderDeps) {}

  /** The machine is done with: the guests' realms go back to the loader's pool (realm_pool.ts). */
  releaseGuests(): void {
    for (const k of this.guests.splice(0)) k.release();
  }

  /**
   * xc_domain_create + the PVH builder: the domain is built with its store and
   * console rings (backends in dom0) and left paused; libxl then writes the
   * keys and introduces it to xenstored, and xenconsoled picks it up.
   * Throws if the config's kernel was not built first (Machine.xl builds it).
   */
  create(domid: number, cfg: DomainConfig, uuid?: string): void {
    const { hv } = this.m;
    // xenconsoled attaches the console at the next @introduceDomain of a domain it was told of.
    this.m.consoled.expect(domid);
    const memKiB = cfg.memory * 1024;
    const rings = { storeDomid: 0, consoleDomid: 0 };
    let d: Domain;
    let ports: { storePort: number; consolePort: number };
    if (cfg.kernel) {
      const bundle = this.m.bundleFor(cfg);
      if (!bundle) throw new Error(`kernel ${cfg.kernel} is not built (use machine.xl(), which builds kernels first)`);
      const booted = bootBundle(hv, {
        bundle, name: cfg.name, memKiB, vcpus: cfg.vcpus, cmdline: cfg.cmdline, domid, ...rings, ...(uuid ? { handle: uuid } : {}),
        hostLog: (l) => this.m.hostLog(l),
      });
      d = booted.domain;
      ports = booted;
      if (booted.kernel) this.guests.push(booted.kernel);
    } else {
      // No kernel: an empty domain with its rings (stub domains, tests).
      d = hv.createDomain({ domid, name: cfg.name, memKiB: Math.max(memKiB, 64), vcpus: cfg.vcpus, ...(uuid ? { handle: uuid } : {}) });
      ports = setupRings(d, rings);
    }
    const onConsole = this.m.onConsole;
    if (onConsole) d.onConsole = (t) => onConsole(domid, t);
    hv.pause(domid);
    this.made.set(domid, { storeGfn: LAYOUT.XENSTORE_GPFN, storePort: ports.storePort, consoleGfn: LAYOUT.CONSOLE_GPFN, consolePort: ports.consolePort });
  }

  built(domid: number): BuiltDomain | undefined {
    return this.made.get(domid);
  }

  /** xc_domain_destroy, then VIRQ_DOM_EXC → xenstored releases the domain and dom0 unmaps its ring. */
  destroy(domid: number): number {
    const rc = this.m.hv.destroyDomain(domid);
    if (rc < 0) return rc;
    this.made.delete(domid);
    this.m.consoled.dying(domid);
    this.m.xsd.domainDied(domid);
    this.m.storeRings.unmap(domid);
    return 0;
  }
}
