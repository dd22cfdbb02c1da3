// The domain builder for PVH kernels (host side; libxl's xc_dom_* analogue):
// creates the domain through the hypervisor, lays out its memory (layout.ts:
// hvm_start_info + memory map, command line, optional xenstore ring page and
// console params), loads the kernel bundle into its own realm (loader.ts) and
// starts vCPU 0 at the PVH entry point with the start_info address.
//
//   const { domain, kernel } = bootBundle(hv, { bundle: await buildKernel('kernels/hello.ts'), name: 'hello', memKiB: 32768 });
//   hv.sim.run();
//
// The bundle is built by the caller (src/machine/kernels.ts, esbuild): the
// toolstack loads images, it does not compile them.
import type { Domain, Hypervisor } from '../../xen/index.ts';
import { GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE, HVM_PARAM, HVM_START_INFO, PAGE_SIZE, XEN_HVM_START_MAGIC_VALUE } from '../../abi/xen.ts';
import { E820_RAM, HVM_MEMMAP_ENTRY, LAYOUT } from '../../abi/pvh.ts';
import { loadKernel, type LoadedKernel } from './loader.ts';

export interface BootKernelOptions {
  /** The built bundle (src/machine/kernels.ts buildKernel: its code, and its source map for crash traces) or just code. */
  bundle: { code: string; map?: string; entry?: string };
  name: string;
  /** The toolstack's uuid (xen_domain_handle_t). */
  handle?: string;
  memKiB?: number;
  vcpus?: number;
  cmdline?: string;
  domid?: number;
  /**
   * The domain that runs xenstored: allocate the store port (unbound, remote =
   * this domain), zero the ring page, grant it as GNTTAB_RESERVED_XENSTORE and
   * set HVM_PARAM_STORE_PFN/EVTCHN. Omitted: no xenstore.
   */
  storeDomid?: number;
  /** Likewise for the PV console ring (GNTTAB_RESERVED_CONSOLE, HVM_PARAM_CONSOLE_PFN/EVTCHN). */
  consoleDomid?: number;
  /** Boot (bundle evaluation + first resume) time limit, ms. */
  bootTimeoutMs?: number;
  /** Seed for the realm's Math.random (default: drawn from the sim's 'guest-random' stream). */
  seed?: number;
  /** Host console sink for crash reports (default: console.error). */
  hostLog?: (line: string) => void;
}

export interface BootedKernel {
  domain: Domain;
  kernel: LoadedKernel | undefined;
  /** The guest's store and console ports (0: none). */
  storePort: number;
  consolePort: number;
}

/** Write hvm_start_info, the memory map and the command line into the domain's frames. */
export function layoutMemory(d: Domain, cmdline: string): number {
  const pm = d.physmap;
  const si = new DataView(pm.frame(LAYOUT.START_INFO_GPFN));
  const siPaddr = LAYOUT.START_INFO_GPFN * PAGE_SIZE;
  si.setUint32(HVM_START_INFO.magic, XEN_HVM_START_MAGIC_VALUE, true);
  si.setUint32(HVM_START_INFO.version, 1, true);
  si.setUint32(HVM_START_INFO.flags, 0, true);
  si.setUint32(HVM_START_INFO.nr_modules, 0, true);
  si.setUint32(HVM_START_INFO.cmdline_paddr, LAYOUT.CMDLINE_GPFN * PAGE_SIZE, true);
  si.setUint32(HVM_START_INFO.memmap_paddr, siPaddr + LAYOUT.MEMMAP_OFFSET, true);
  si.setUint32(HVM_START_INFO.memmap_entries, 1, true);
  const mm = LAYOUT.MEMMAP_OFFSET;
  si.setUint32(mm + HVM_MEMMAP_ENTRY.addr, 0, true);
  const size = pm.nrFrames * PAGE_SIZE;
  si.setUint32(mm + HVM_MEMMAP_ENTRY.sz, size >>> 0, true);
  si.setUint32(mm + HVM_MEMMAP_ENTRY.sz + 4, Math.floor(size / 4294967296), true);
  si.setUint32(mm + HVM_MEMMAP_ENTRY.type, E820_RAM, true);
  const cl = new Uint8Array(pm.frame(LAYOUT.CMDLINE_GPFN));
  const n = Math.min(cmdline.length, PAGE_SIZE - 1);
  for (let i = 0; i < n; i++) cl[i] = cmdline.charCodeAt(i) & 0xff;
  cl[n] = 0;
  return siPaddr;
}

/** Create the domain, lay out its memory, load the bundle and start vCPU 0. */
export function bootBundle(hv: Hypervisor, opts: BootKernelOptions): BootedKernel {
  const memKiB = opts.memKiB ?? 32 * 1024;
  if (memKiB < LAYOUT.MIN_FRAMES * 4) throw new Error(`bootKernel: memKiB must be at least ${LAYOUT.MIN_FRAMES * 4}`);
  const domain = hv.createDomain({ name: opts.name, memKiB, vcpus: opts.vcpus ?? 1, ...(opts.domid !== undefined ? { domid: opts.domid } : {}), ...(opts.handle !== undefined ? { handle: opts.handle } : {}) });
  const siPaddr = layoutMemory(domain, opts.cmdline ?? '');
  const { storePort, consolePort } = setupRings(domain, opts);
  const hostLog = opts.hostLog ?? ((l: string) => console.error(l));
  const kernel = loadKernel(opts.bundle.code, {
    ...(opts.bundle.map !== undefined ? { sourceMap: opts.bundle.map } : {}),
    // One compiled Script per kernel, not per domain name (see LoadOptions.scriptName).
    ...(opts.bundle.entry !== undefined ? { scriptName: opts.bundle.entry.replace(/^.*\//, '').replace(/\.[cm]?[jt]s$/, '') } : {}),
    domid: domain.id,
    name: opts.name,
    now: () => hv.sim.clock.now,
    wallEpochNs: hv.wallclockBootNs,
    seed: opts.seed ?? Math.floor(hv.sim.stream('guest-random').float() * 4294967296),
    ...(opts.bootTimeoutMs !== undefined ? { bootTimeoutMs: opts.bootTimeoutMs } : {}),
    // The boot inputs besides the bundle (see LoadOptions.bootKey).
    bootKey: `${memKiB} ${opts.vcpus ?? 1} ${storePort} ${consolePort} ${opts.cmdline ?? ''}`,
    onCrash: (domid, msg) => {
      hostLog(`xenode: domain ${domid} (${opts.name}) crashed: ${msg}`);
      domain.writeConsole(`[xenode loader] ${msg}\n`);
      domain.crash(`kernel: ${msg}`);
    },
  });
  if (kernel.crashed === undefined) {
    const v0 = domain.vcpus[0]!;
    v0.start(kernel.start(v0, siPaddr));
  }
  return { domain, kernel, storePort, consolePort };
}

/**
 * libxl__build_pre + xc_dom_gnttab_init: the store port first, then the
 * console port (so a guest sees 1 = xenstore, 2 = console, as the June 2020
 * Solo5 log shows), each ring page zeroed and granted to its backend at the
 * reserved ref, and the HVM params the guest reads at start of day.
 */
export function setupRings(domain: Domain, opts: { storeDomid?: number; consoleDomid?: number }): { storePort: number; consolePort: number } {
  /** One ring: its unbound port for `backend`, its zeroed page granted at `ref`, and the two HVM params. */
  const ring = (what: string, backend: number | undefined, ref: number, gpfn: number, pfnParam: number, evtchnParam: number): number => {
    if (backend === undefined) return 0;
    const port = domain.evtchn.allocUnbound(backend);
    if (port < 0) throw new Error(`d${domain.id}: ${what} port: ${port}`);
    new Uint8Array(domain.physmap.frame(gpfn)).fill(0);
    domain.gnttab.grantAccess(ref, backend, gpfn);
    domain.setParam(pfnParam, gpfn);
    domain.setParam(evtchnParam, port);
    return port;
  };
  // Order matters: the store port first, then the console port.
  const storePort = ring('store', opts.storeDomid, GNTTAB_RESERVED_XENSTORE, LAYOUT.XENSTORE_GPFN, HVM_PARAM.STORE_PFN, HVM_PARAM.STORE_EVTCHN);
  const consolePort = ring('console', opts.consoleDomid, GNTTAB_RESERVED_CONSOLE, LAYOUT.CONSOLE_GPFN, HVM_PARAM.CONSOLE_PFN, HVM_PARAM.CONSOLE_EVTCHN);
  return { storePort, consolePort };
}
