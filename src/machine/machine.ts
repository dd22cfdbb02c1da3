// One emulated machine: the simulator (seed, trace), the hypervisor, dom0
// (host domain 0), xenstored wired to the hypervisor, dom0's kernel (xenbus,
// xenwatch, backends) and the toolstack.
//
//   const host = new Machine({ seed: 1, xenwatch: 'mtwatch' });
//   host.files.set('g.cfg', 'name="g"\nkernel="kernels/hello.ts"\n');
//   const r = await host.xl('create g.cfg');   // runs as a sim thread, virtual time
//   console.log(r.stderr, (await host.xl('list')).stdout);
//
// xenstored maps a guest's store ring the way cxenstored does: dom0 maps the
// guest's grant ref 1 (GNTTAB_RESERVED_XENSTORE, seeded by the builder) and
// binds an interdomain port to the guest's store port; events on that port
// kick the daemon. When a domain dies (VIRQ_DOM_EXC), xenstored releases it and
// dom0 unmaps the ring, so the domain can go unless a backend still maps its
// pages (then `xl list` shows the `(null) … --p--d` zombie).

import fs from 'node:fs';
import { SHUTDOWN_NAMES } from '../abi/xen.ts';
import { Sim, SimThread, type Co, type Scheduler } from '../sim/index.ts';
import { Hypervisor } from '../xen/hypervisor.ts';
import type { Domain } from '../xen/domain.ts';
import { Xenstored } from '../dom0/xenstored/xenstored.ts';
import { Libxenstore, type XsTransport } from '../dom0/toolstack/xs.ts';
import { Xenconsoled } from '../dom0/xenconsoled.ts';
import { Libxl, type SpawnPort } from '../dom0/toolstack/libxl.ts';
import { Xc, type BuiltDomain } from '../dom0/toolstack/xc.ts';
import { DeviceModels } from '../dom0/toolstack/dm.ts';
import { runThread } from '../dom0/toolstack/run.ts';
import { xlMain, type XlResult } from '../dom0/toolstack/xl.ts';
import { parseDomainConfig, type DomainConfig } from '../dom0/toolstack/cfg.ts';
import { bootBundle, setupRings } from '../dom0/toolstack/xenguest.ts';
import { buildKernel, type KernelBundle } from './kernels.ts';
import { LAYOUT } from '../abi/pvh.ts';
import { attachDom0Events, type Dom0Events } from '../dom0/kernel/events.ts';
import type { Dom0Host } from '../dom0/kernel/host.ts';
import { XenstoreRings } from '../dom0/kernel/xenstore_rings.ts';
import { Dom0Kernel, type Dom0KernelOptions } from '../dom0/kernel/kernel.ts';
import type { XenwatchMode } from '../dom0/kernel/xenwatch.ts';

/** Trace thread ids (pid 0 = dom0) of the toolstack and of scenario steps. */
export const XL_TID = 9000;
export const STEP_TID = 9001;

export interface MachineOptions {
  seed?: number;
  trace?: boolean;
  /** dom0's watch execution: one xenwatch thread, or one per domU. */
  xenwatch?: XenwatchMode;
  /** The device-model readiness protocol with the hard-coded dom0 path. */
  legacyDmPath?: boolean;
  /** Start a dom0 "xenpv" QEMU next to a stub domain (default true). */
  xenpvQemu?: boolean;
  /** dom0 memory (KiB) and vCPUs, as `xl list` shows them. */
  dom0MemKiB?: number;
  dom0Vcpus?: number;
  /** Runtime variant for kernels whose config has no `xenode_variant` key (default fixed). */
  variant?: string;
  /**
   * Default scheduler: at a choice point with ready nestable work, preempt
   * with probability 1/n (0 = never; default 2). Ignored with `scheduler`.
   */
  preemptOneIn?: number;
  /** Who answers scheduling decisions (`xenode explore`'s strategies); default: random on the seed. */
  scheduler?: Scheduler;
  /** Guest console output as it arrives (PV console ring via xenconsoled, and CONSOLEIO_write). */
  onConsole?: (domid: number, text: string) => void;
  /** Where host-side diagnostics go (kernel crashes, xenstored internals). */
  log?: (line: string) => void;
  /** Boot dom0's kernel (xenbus, xenwatch, netback, blkback). Default true. */
  kernel?: boolean;
  /** More options for dom0's kernel. */
  kernelOptions?: Dom0KernelOptions;
  /**
   * Run xl's per-domain monitor: on shutdown, apply on_poweroff/on_reboot/
   * on_crash (destroy by default, as xl does). Off by default so a powered-off
   * domain stays listed (`---s--`) for inspection; `xenode xl` turns it on.
   */
  monitor?: boolean;
}

/** Commands Machine.history keeps (the newest). */
export const MACHINE_HISTORY = 256;

export class Machine {
  readonly sim: Sim;
  readonly hv: Hypervisor;
  readonly dom0: Domain;
  /** dom0's kernel-side view of its Domain: event channels with its IRQ table, grant table. */
  readonly dom0host: Dom0Host & { events: Dom0Events };
  readonly storeRings: XenstoreRings;
  readonly xsd: Xenstored;
  readonly xs: Libxenstore;
  /** dom0's console daemon: every guest's PV console ring. */
  readonly consoled: Xenconsoled;
  readonly libxl: Libxl;
  readonly dms: DeviceModels;
  /** dom0's kernel (undefined with `kernel: false`). */
  readonly kernel: Dom0Kernel | undefined;
  readonly opts: MachineOptions;
  /** In-memory files (configs) consulted before the real filesystem. */
  readonly files = new Map<string, string>();
  /** Built kernel bundles by bundleKey(path, variant). */
  readonly bundles = new Map<string, KernelBundle>();
  /** Host diagnostics (kernel crashes, daemon errors). */
  readonly diag: string[] = [];
  /** The xl commands run, with their results (the scenario transcript uses it): the last MACHINE_HISTORY (a long run of create/destroy cycles must not grow it). */
  readonly history: { cmd: string; t: number; result: XlResult }[] = [];
  private readonly built = new Map<number, BuiltDomain>();
  private nextUserPid = 2000;

  constructor(opts: MachineOptions = {}) {
    this.opts = opts;
    const log = (l: string) => {
      this.diag.push(l);
      // xenstored's drops and errors are dom0 log lines (`dmesg`) too.
      this.kernel?.klog.printk(l);
      opts.log?.(l);
    };
    this.sim = new Sim({ seed: opts.seed ?? 0, trace: opts.trace ?? false, preemptOneIn: opts.preemptOneIn ?? 2, ...(opts.scheduler ? { scheduler: opts.scheduler } : {}) });
    this.hv = new Hypervisor(this.sim);
    this.dom0 = this.hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: opts.dom0MemKiB ?? 2879 * 1024 + 512, vcpus: opts.dom0Vcpus ?? 4, host: true });
    this.dom0host = attachDom0Events(this.dom0);
    this.storeRings = new XenstoreRings(this.dom0host, (domid) => this.xsd.kick(domid));
    this.xsd = new Xenstored({ mapRing: (domid, gfn, port) => this.storeRings.map(domid, gfn, port), log });
    this.xs = new Libxenstore(localTransport(this.xsd));
    this.consoled = new Xenconsoled({
      sim: this.sim, dom0: this.dom0host, xenstore: localTransport(this.xsd), log,
      onOutput: (domid, text) => opts.onConsole?.(domid, text),
      domainGone: (domid) => {
        const d = this.hv.domain(domid);
        return !d || d.dying;
      },
    });
    this.dms = new DeviceModels(this.sim, this.xsd, () => this.allocUserPid());
    if (opts.kernel ?? true) {
      this.kernel = new Dom0Kernel({ sim: this.sim, dom0: this.dom0host, xenstored: this.xsd, hv: this.hv }, { xenwatch: opts.xenwatch ?? 'single', ...opts.kernelOptions });
      this.kernel.start();
      const k = this.kernel;
      if (!this.sim.runUntil(() => k.ready)) throw new Error(`dom0 kernel did not boot: ${k.oopses.join('; ')}`);
    }
    const spawn: SpawnPort = {
      hotplug: (action, kind, bePath) => (this.kernel ? this.kernel.hotplug(action, kind, bePath) : this.hotplug(action, kind, bePath)),
      deviceModel: (domid, dmDomid, o) => {
        this.dms.spawn(domid, dmDomid, o);
      },
      deviceModelDestroy: (domid) => this.dms.destroy(domid),
    };
    const xc = new Xc(this.hv, {
      create: (domid, cfg, uuid) => this.createDomain(domid, cfg, uuid),
      built: (domid) => this.built.get(domid),
      destroy: (domid) => this.destroyDomain(domid),
    });
    this.libxl = new Libxl(this.sim, this.xs, xc, spawn, {
      legacyDmPath: opts.legacyDmPath ?? false,
      xenpvQemu: opts.xenpvQemu ?? true,
      // The mtwatch RFC's lifecycle: libxl writes /local/domain/0/mtwatch/<domid> first and removes it last.
      mtwatchNode: opts.xenwatch === 'mtwatch' && opts.kernelOptions?.mtwatchLifecycle === 'node',
    });
    // xl's per-domain monitor (the forked `xl create` daemon): act on a shutdown as the config says.
    this.hv.onShutdown = (d, reason) => this.onDomainShutdown(d.id, reason);
    // xencommons: dom0's name and domid.
    this.run(function* (this: Machine) {
      const xs = this.xs;
      yield* xs.transaction(function* (t) {
        yield* xs.write(t, '/local/domain/0/name', 'Domain-0');
        yield* xs.write(t, '/local/domain/0/domid', '0');
      });
    }.bind(this));
  }

  /** Config of each domain created through xl (for on_poweroff/on_reboot/on_crash). */
  readonly configs = new Map<number, DomainConfig>();

  /**
   * The xl monitor: `Domain N has shut down, reason code R` → the configured
   * action (xl_vmcontrol.c handle_domain_death). destroy / coredump-destroy:
   * destroy it; restart / rename-restart / coredump-restart: destroy and create
   * it again from the same config; preserve: leave it shut down.
   */
  private onDomainShutdown(domid: number, reason: number): void {
    if (!this.opts.monitor) {
      this.diag.push(`d${domid} shut down (reason ${reason}); no xl monitor`);
      return;
    }
    const cfg = this.configs.get(domid);
    const why = SHUTDOWN_NAMES[reason] ?? String(reason);
    const action = !cfg ? 'preserve' : reason === 0 ? cfg.on_poweroff : reason === 1 ? cfg.on_reboot : reason === 3 || reason === 4 ? cfg.on_crash : 'preserve';
    this.diag.push(`xl: Domain ${domid} has shut down, reason code ${reason} (${why}); action: ${action}`);
    if (action === 'preserve' || action === 'soft-reset' || reason === 2) return;
    const restart = action === 'restart' || action === 'rename-restart' || action === 'coredump-restart';
    const libxl = this.libxl;
    this.configs.delete(domid);
    new SimThread(this.sim, this.allocUserPid(), 'xl', function* (this: Machine): Co {
      yield* libxl.domainDestroy(domid);
      if (restart && cfg) {
        const r = yield* libxl.domainCreate(cfg);
        if (r.rc === 0) this.configs.set(r.domid, cfg);
        this.diag.push(`xl: Domain ${domid} restarted as ${r.domid} (rc ${r.rc})`);
      }
      this.remember({ cmd: `xl (monitor of d${domid}): ${restart ? 'restart' : 'destroy'}`, t: this.sim.now, result: { code: 0, stdout: '', stderr: libxl.log.splice(0).map((l) => l + '\n').join('') } });
    }.bind(this), ['entry_SYSCALL_64']);
  }

  allocUserPid(): number {
    return this.nextUserPid++;
  }

  /** Run a coroutine as a dom0 process to completion (virtual time). */
  run<T>(co: () => Co<T>, name = 'xl'): T {
    return runThread(this.sim, co, { pid: this.allocUserPid(), name });
  }

  // ------------------------------------------------------------------ the domain builder behind xc.ts

  /**
   * xc_domain_create + the PVH builder: the domain is built with its store and
   * console rings (backends in dom0) and left paused; libxl then writes the
   * keys and introduces it to xenstored, and xenconsoled picks it up.
   */
  private createDomain(domid: number, cfg: DomainConfig, uuid?: string): void {
    this.configs.set(domid, cfg);
    this.consoled.expect(domid);
    const memKiB = cfg.memory * 1024;
    const rings = { storeDomid: 0, consoleDomid: 0 };
    let d: Domain;
    let ports: { storePort: number; consolePort: number };
    if (cfg.kernel) {
      const bundle = this.bundles.get(bundleKey(cfg.kernel, this.variantOf(cfg)));
      if (!bundle) throw new Error(`kernel ${cfg.kernel} is not built (use machine.xl(), which builds kernels first)`);
      const booted = bootBundle(this.hv, {
        bundle, name: cfg.name, memKiB, vcpus: cfg.vcpus, cmdline: cfg.cmdline, domid, ...rings, ...(uuid ? { handle: uuid } : {}),
        hostLog: (l) => this.diag.push(l),
      });
      d = booted.domain;
      ports = booted;
    } else {
      // No kernel: an empty domain with its rings (stub domains, tests).
      d = this.hv.createDomain({ domid, name: cfg.name, memKiB: Math.max(memKiB, 64), vcpus: cfg.vcpus, ...(uuid ? { handle: uuid } : {}) });
      ports = setupRings(d, rings);
    }
    if (this.opts.onConsole) d.onConsole = (t) => this.opts.onConsole!(domid, t);
    this.hv.pause(domid);
    this.built.set(domid, { storeGfn: LAYOUT.XENSTORE_GPFN, storePort: ports.storePort, consoleGfn: LAYOUT.CONSOLE_GPFN, consolePort: ports.consolePort });
  }

  /** xc_domain_destroy, then VIRQ_DOM_EXC → xenstored releases the domain and unmaps its ring. */
  private destroyDomain(domid: number): number {
    const rc = this.hv.destroyDomain(domid);
    if (rc < 0) return rc;
    this.built.delete(domid);
    this.configs.delete(domid);
    this.consoled.dying(domid);
    this.xsd.domainDied(domid);
    this.storeRings.unmap(domid);
    return 0;
  }

  // ------------------------------------------------------------------ hotplug scripts

  private *hotplug(action: 'online' | 'offline', kind: 'vif' | 'vbd', bePath: string): Co<number> {
    const xs = this.xs;
    if (action === 'offline') return 0;
    if (kind === 'vif') {
      // vif-bridge: brctl addif, ip link up, then report.
      yield* xs.write(0, `${bePath}/hotplug-status`, 'connected');
    } else {
      // block: losetup the image and report the device to blkback.
      const params = (yield* xs.read(0, `${bePath}/params`)) ?? '';
      yield* xs.transaction(function* (t) {
        yield* xs.write(t, `${bePath}/physical-device`, '7:0');
        yield* xs.write(t, `${bePath}/physical-device-path`, params);
        yield* xs.write(t, `${bePath}/hotplug-status`, 'connected');
      });
    }
    return 0;
  }

  // ------------------------------------------------------------------ xl

  /** What `xl console DOMID` shows: the PV console (xenconsoled's log), then anything written with CONSOLEIO_write. */
  console(domid: number): string | undefined {
    const ring = this.consoled.output(domid);
    const io = this.hv.domain(domid)?.console;
    if (ring === undefined && io === undefined) return undefined;
    return (ring ?? '') + (io ?? '');
  }

  /**
   * A guest port's device, from the store: the frontend directory whose
   * `event-channel` (or `event-channel-tx`) names it, e.g. `netfront vif 0`.
   */
  portDevice(domid: number, port: number): string | undefined {
    const base = `/local/domain/${domid}/device`;
    const dec = new TextDecoder();
    for (const [kind, fe] of [['vif', 'netfront'], ['vbd', 'blkfront']] as const) {
      const devs = this.xsd.store.get(`${base}/${kind}`);
      if (!devs) continue;
      for (const id of devs.children) {
        for (const key of ['event-channel', 'event-channel-tx', 'event-channel-rx']) {
          const n = this.xsd.store.get(`${base}/${kind}/${id}/${key}`);
          if (n && Number(dec.decode(n.value)) === port) return id === '0' ? fe : `${fe} ${kind} ${id}`;
        }
      }
    }
    return undefined;
  }

  readFile(path: string): string | undefined {
    const f = this.files.get(path);
    if (f !== undefined) return f;
    try {
      return fs.readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Build the kernels a command's config names (async: esbuild). */
  async prepare(argv: string[]): Promise<void> {
    if (argv[0] !== 'create') return;
    const file = argv.slice(1).find((a) => !a.startsWith('-'));
    if (!file) return;
    const src = this.readFile(file);
    if (src === undefined) return;
    let cfg: DomainConfig;
    try {
      cfg = parseDomainConfig(file, src);
    } catch {
      return; // xl reports it
    }
    await this.buildKernelFor(cfg);
  }

  /**
   * The runtime build a config asks for: its `xenode_variant` key (xenode's
   * own xl.cfg key; real xl ignores it like any unknown key), else the
   * machine's `variant` option, else the fixed runtime.
   */
  variantOf(cfg: DomainConfig): string {
    const v = cfg.extra['xenode_variant'];
    return typeof v === 'string' && v !== '' ? v : (this.opts.variant ?? 'fixed');
  }

  /** Build (once) the kernel bundle a config names, in its variant. */
  async buildKernelFor(cfg: DomainConfig): Promise<void> {
    if (cfg.kernel) await this.buildKernelFile(cfg.kernel, this.variantOf(cfg));
  }

  /** Build (once) `kernel` in `variant` (default: the machine's). */
  async buildKernelFile(kernel: string, variant = this.opts.variant ?? 'fixed'): Promise<void> {
    const key = bundleKey(kernel, variant);
    if (!this.bundles.has(key)) this.bundles.set(key, await buildKernel(kernel, { variant }));
  }

  /** `xl ARGS…` as a dom0 process; kernels named by a config are built first. */
  async xl(cmdline: string | string[]): Promise<XlResult> {
    const argv = typeof cmdline === 'string' ? splitArgs(cmdline) : cmdline;
    await this.prepare(argv);
    return this.xlSync(argv);
  }

  /** `xenstore-read PATH` (dom0, privileged). */
  xenstoreRead(path: string): XlResult {
    const v = this.run(() => this.xs.read(0, path), 'xenstore-read');
    return v === undefined ? { code: 1, stdout: '', stderr: `xenstore-read: couldn't read path ${path}\n` } : { code: 0, stdout: `${v}\n`, stderr: '' };
  }

  /** `xenstore-ls PATH`: the subtree, one space of indent per level, `name = "value"`. */
  xenstoreLs(path: string): XlResult {
    const xs = this.xs;
    const lines: string[] = [];
    const walk = function* (p: string, depth: number): Co {
      const kids = (yield* xs.directory(0, p)) ?? [];
      for (const k of kids) {
        const child = p === '/' ? `/${k}` : `${p}/${k}`;
        const v = (yield* xs.read(0, child)) ?? '';
        lines.push(`${' '.repeat(depth)}${k} = "${v}"`);
        yield* walk(child, depth + 1);
      }
    };
    const exists = this.run(function* () {
      if ((yield* xs.read(0, path)) === undefined) return false;
      yield* walk(path, 0);
      return true;
    }, 'xenstore-ls');
    if (!exists) return { code: 1, stdout: '', stderr: `xenstore-ls: xs_directory (${path}): No such file or directory\n` };
    return { code: 0, stdout: lines.map((l) => l + '\n').join(''), stderr: '' };
  }

  /** `xl ARGS…` when every kernel it needs is already built. */
  private remember(entry: { cmd: string; t: number; result: XlResult }): void {
    this.history.push(entry);
    if (this.history.length > MACHINE_HISTORY) this.history.splice(0, this.history.length - MACHINE_HISTORY);
  }

  xlSync(cmdline: string | string[]): XlResult {
    const argv = typeof cmdline === 'string' ? splitArgs(cmdline) : cmdline;
    const t = this.sim.now;
    const trace = this.sim.trace;
    if (trace.enabled) {
      trace.threadName(0, XL_TID, 'xl (toolstack)');
      trace.instant(0, XL_TID, `xl ${argv.join(' ')}`, undefined, 'toolstack');
    }
    const result = this.run(() =>
      xlMain(
        {
          libxl: this.libxl,
          readFile: (p) => this.readFile(p),
          debugKeys: (k) => this.hv.debugKeys(k),
          dmesg: (clear) => {
            const text = this.hv.conring.read();
            if (clear) this.hv.conring.clear();
            return text;
          },
          console: (domid) => this.console(domid),
        },
        argv,
      ),
    );
    this.remember({ cmd: `xl ${argv.join(' ')}`, t, result });
    if (trace.enabled) trace.instant(0, XL_TID, `xl ${argv[0] ?? ''} done: rc ${result.code}${result.stderr.includes('error') ? ' (libxl errors)' : ''}`, { stderr: result.stderr }, 'toolstack');
    return result;
  }
}

/** An in-process dom0 connection to `xsd` as an Libxenstore transport. */
export function localTransport(xsd: Xenstored): XsTransport {
  const conn = xsd.connectLocal();
  return {
    send: (f) => conn.send(f),
    get onFrame() {
      return conn.onMessage;
    },
    set onFrame(cb) {
      conn.onMessage = cb;
    },
  };
}

/** Where a built kernel is kept: one bundle per (file, runtime variant). */
export function bundleKey(kernel: string, variant: string): string {
  return `${kernel}\0${variant}`;
}

/** Shell-like split: whitespace separates words; '…' and "…" quote (also inside a word). */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let q = '';
  for (const ch of s) {
    if (q) {
      if (ch === q) q = '';
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      q = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}
