// One emulated machine: the simulator (seed, trace), the hypervisor, dom0
// (host domain 0), xenstored wired to the hypervisor, dom0's kernel (xenbus,
// xenwatch, backends) and the toolstack.
//
//   const host = new Machine({ seed: 1, xenwatch: 'mtwatch' });
//   host.files.set('g.cfg', 'name="g"\nkernel="kernels/hello.ts"\n');
//   const r = await host.xl('create g.cfg');   // runs as a sim thread, virtual time
//   console.log(r.stderr, (await host.xl('list')).stdout);
//
// Around it: the domain builder behind libxc (builder.ts: rings, xenstored and
// xenconsoled told of each domain), xl's per-domain monitor (xl_monitor.ts),
// the hotplug scripts of a kernel-less dom0 (hotplug_scripts.ts) and the
// xenstore-read/-ls tools (xenstore_cmds.ts). This file wires them and keeps
// the command entries (xl, console, the kernels a config names).

import fs from 'node:fs';
import { Sim, type Co, type Scheduler } from '../sim/index.ts';
import { Hypervisor } from '../xen/hypervisor.ts';
import type { Domain } from '../xen/domain.ts';
import { Xenstored } from '../dom0/xenstored/xenstored.ts';
import { Libxenstore, type XsTransport } from '../dom0/toolstack/xs.ts';
import { Xenconsoled } from '../dom0/xenconsoled.ts';
import { Libxl, type SpawnPort } from '../dom0/toolstack/libxl.ts';
import { Xc } from '../dom0/toolstack/xc.ts';
import { DeviceModels } from '../dom0/toolstack/dm.ts';
import { runThread } from '../dom0/toolstack/run.ts';
import { xlMain, type XlResult } from '../dom0/toolstack/xl.ts';
import { parseDomainConfig, type DomainConfig } from '../dom0/toolstack/cfg.ts';
import { buildKernel, type KernelBundle } from './kernels.ts';
import { attachDom0Events, type Dom0Events } from '../dom0/kernel/events.ts';
import type { Dom0Host } from '../dom0/kernel/host.ts';
import { XenstoreRings } from '../dom0/kernel/xenstore_rings.ts';
import { Dom0Kernel, type Dom0KernelOptions } from '../dom0/kernel/kernel.ts';
import type { XenwatchMode } from '../dom0/kernel/xenwatch.ts';
import { splitArgs } from './args.ts';
import { MachineBuilder } from './builder.ts';
import { hotplugScript } from './hotplug_scripts.ts';
import { xlMonitorShutdown } from './xl_monitor.ts';
import { xenstoreLs, xenstoreRead } from './xenstore_cmds.ts';

export { splitArgs };

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
  private readonly builder: MachineBuilder;
  /** In-memory files (configs) consulted before the real filesystem. */
  readonly files = new Map<string, string>();
  /** Built kernel bundles by bundleKey(path, variant). */
  readonly bundles = new Map<string, KernelBundle>();
  /** Host diagnostics (kernel crashes, daemon errors). */
  readonly diag: string[] = [];
  /** The xl commands run, with their results (the scenario transcript uses it): the last MACHINE_HISTORY (a long run of create/destroy cycles must not grow it). */
  readonly history: { cmd: string; t: number; result: XlResult }[] = [];
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
      hotplug: (action, kind, bePath) => (this.kernel ? this.kernel.hotplug(action, kind, bePath) : hotplugScript(this.xs, action, kind, bePath)),
      deviceModel: (domid, dmDomid, o) => {
        this.dms.spawn(domid, dmDomid, o);
      },
      deviceModelDestroy: (domid) => this.dms.destroy(domid),
    };
    const builder = (this.builder = new MachineBuilder({
      hv: this.hv, xsd: this.xsd, consoled: this.consoled, storeRings: this.storeRings,
      bundleFor: (cfg) => (cfg.kernel ? this.bundles.get(bundleKey(cfg.kernel, this.variantOf(cfg))) : undefined),
      hostLog: (l) => this.diag.push(l),
      onConsole: opts.onConsole,
    }));
    const xc = new Xc(this.hv, builder);
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

  /** xl's monitor (xl_monitor.ts), when the hypervisor reports a shutdown. */
  private onDomainShutdown(domid: number, reason: number): void {
    xlMonitorShutdown(
      {
        sim: this.sim, libxl: this.libxl, enabled: this.opts.monitor ?? false,
        diag: (l) => this.diag.push(l), allocUserPid: () => this.allocUserPid(), remember: (e) => this.remember(e),
      },
      domid,
      reason,
    );
  }

  allocUserPid(): number {
    return this.nextUserPid++;
  }

  /**
   * The machine is done with (`xenode explore`, after a schedule's outcome):
   * its guests' realms go back to the loader's pool (realm_pool.ts); nothing
   * may run on it afterwards.
   */
  releaseGuests(): void {
    this.builder.releaseGuests();
  }

  /** Run a coroutine as a dom0 process to completion (virtual time). */
  run<T>(co: () => Co<T>, name = 'xl'): T {
    return runThread(this.sim, co, { pid: this.allocUserPid(), name });
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
    return xenstoreRead((co, name) => this.run(co, name), this.xs, path);
  }

  /** `xenstore-ls PATH`: the subtree, one space of indent per level, `name = "value"`. */
  xenstoreLs(path: string): XlResult {
    return xenstoreLs((co, name) => this.run(co, name), this.xs, path);
  }

  /** Keep a command in `history`, dropping the oldest past MACHINE_HISTORY. */
  private remember(entry: { cmd: string; t: number; result: XlResult }): void {
    this.history.push(entry);
    if (this.history.length > MACHINE_HISTORY) this.history.splice(0, this.history.length - MACHINE_HISTORY);
  }

  /** `xl ARGS…` when every kernel it needs is already built. */
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
