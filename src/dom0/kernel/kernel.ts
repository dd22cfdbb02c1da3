// dom0's Linux-like kernel, assembled: kthreads, the xenbus client thread,
// xenwatch (single or mtwatch), the backend bus with netback and blkback, a
// bridge with the physical NIC, and the tools a scenario uses to look at it
// (ps, /proc/PID/stack, ethtool -S, ifconfig) and to break it (NIC hold,
// disk stall, a block layer holding a persistent grant page).
//
//   const k = new Dom0Kernel({ sim, dom0, xenstored }, { xenwatch: 'mtwatch' });
//   k.start();                       // threads run when the sim runs
//   sim.runUntil(() => k.ready);
//   k.ps(); k.stack(k.xenwatchPid); k.ethtool('vif1.0'); k.ifconfig('eth0', 'down');

import type { Co, Sim } from '../../sim/index.ts';
import { Blkback } from './blkback.ts';
import type { BlkbackOptions } from './xen_blkif.ts';
import { Bridge } from './bridge.ts';
import type { Dom0Host } from './host.ts';
import { Inet, type InetOptions } from './inet.ts';
import { Kthreads, type Kthread } from './kthread.ts';
import { MtwatchLifecycleWatch } from './mtwatch.ts';
import { Netback } from './netback.ts';
import { Nic, type NicOptions } from './nic.ts';
import { KernelLog } from './printk.ts';
import { formatPs, ps, stack, type PsRow } from './ps.ts';
import { Skb } from './skb.ts';
import { Xenbus, type XsLocalConnection } from './xenbus.ts';
import { BackendBus } from './xenbus_probe.ts';
import { Xenwatch, type MtwatchLifecycle, type XenwatchMode } from './xenwatch.ts';

export interface Dom0KernelDeps {
  sim: Sim;
  /** dom0's Domain (host-side API: evtchn, gnttab, bindHandler). */
  dom0: Dom0Host;
  xenstored: { connectLocal(): XsLocalConnection };
  /** The hypervisor (unused by the kernel itself; kept for callers' convenience). */
  hv?: unknown;
}

export interface Dom0KernelOptions {
  xenwatch?: XenwatchMode;
  /** mtwatch only: how per-domain threads come and go (default 'domains'). */
  mtwatchLifecycle?: MtwatchLifecycle;
  nic?: NicOptions;
  /** Bridge name (default xenbr0). */
  bridge?: string;
  /** xen-netback's max_queues (default 1). */
  netbackMaxQueues?: number;
  blkback?: BlkbackOptions;
  /** dom0's address on the bridge (default xenbr0 10.0.0.1/24, see inet.ts). */
  inet?: InetOptions;
  /** First kthread pid (default 38: xenbus 38, xenwatch 39 as in the 2018 report). */
  firstPid?: number;
}

export class Dom0Kernel {
  readonly sim: Sim;
  readonly kthreads: Kthreads;
  readonly xenwatch: Xenwatch;
  readonly xenbus: Xenbus;
  readonly bus: BackendBus;
  readonly bridge: Bridge;
  readonly nic: Nic;
  /** dom0's IPv4 endpoint: the bridge device itself (xenbr0 10.0.0.1/24), a port of the bridge. */
  readonly inet: Inet;
  readonly netback: Netback;
  readonly blkback: Blkback;
  readonly mtwatch: MtwatchLifecycleWatch | undefined;
  readonly mode: XenwatchMode;
  ready = false;
  /** The kernel log (dmesg), bounded. */
  readonly klog = new KernelLog();
  /** Errors that escaped a kernel thread (a bug: tests assert it stays empty). */
  readonly oopses: string[] = [];
  private initThread: Kthread | undefined;

  constructor(deps: Dom0KernelDeps, opts: Dom0KernelOptions = {}) {
    this.sim = deps.sim;
    this.mode = opts.xenwatch ?? 'single';
    this.kthreads = new Kthreads(deps.sim, opts.firstPid ?? 38);
    this.xenwatch = new Xenwatch(this.kthreads, this.mode);
    this.xenbus = new Xenbus(this.kthreads, deps.xenstored.connectLocal(), this.xenwatch);
    this.bus = new BackendBus(this.xenbus);
    this.bridge = new Bridge(opts.bridge ?? 'xenbr0');
    this.nic = new Nic(deps.sim, opts.nic);
    this.nic.bridge = this.bridge;
    this.bridge.addif(this.nic);
    this.inet = new Inet(deps.sim, this.bridge, opts.inet);
    this.bridge.addLocal(this.inet.mac, this.inet);
    const printk = (line: string) => this.klog.printk(line);
    this.netback = new Netback({
      xb: this.xenbus, bus: this.bus, kthreads: this.kthreads, host: deps.dom0, bridge: this.bridge, maxQueues: opts.netbackMaxQueues, printk,
    });
    this.blkback = new Blkback({ xb: this.xenbus, bus: this.bus, kthreads: this.kthreads, host: deps.dom0, sim: deps.sim, printk }, opts.blkback);
    this.bus.addDriver(this.netback);
    this.bus.addDriver(this.blkback);
    this.mtwatch = this.mode === 'mtwatch' ? new MtwatchLifecycleWatch(this.xenbus, this.xenwatch, opts.mtwatchLifecycle ?? 'domains') : undefined;
  }

  /** Boot: [xenbus], [xenwatch], then an initcall thread registers be_watch (and the mtwatch lifecycle watches). */
  start(): void {
    this.xenbus.start();
    this.xenwatch.start();
    this.initThread = this.kthreads.run('swapper/0', 'do_initcalls', () => this.initcalls());
  }

  private *initcalls(): Co {
    try {
      if (this.mtwatch) yield* this.mtwatch.init();
      yield* this.bus.init();
      this.ready = true;
    } catch (e) {
      this.oopses.push(`initcalls: ${(e as Error)?.stack ?? String(e)}`);
    }
  }

  // ------------------------------------------------------------ observation

  get xenwatchPid(): number {
    return this.xenwatch.xenwatchPid;
  }

  get xenbusPid(): number {
    return this.xenbus.thread.pid;
  }

  ps(): PsRow[] {
    return ps(this.kthreads);
  }

  psText(): string {
    return formatPs(this.ps());
  }

  /** /proc/PID/stack, or undefined for no such kernel thread. */
  stack(pid: number): string | undefined {
    return stack(this.kthreads, pid);
  }

  /** `ethtool -S vifD.N`. */
  ethtool(vif: string): string | undefined {
    return this.netback.ethtool(vif);
  }

  /** `ifconfig DEV up|down` (the NIC; down frees its TX ring, held skbs included). */
  ifconfig(dev: string, state: 'up' | 'down'): boolean {
    if (dev !== this.nic.name) return false;
    this.nic.ifconfig(state);
    return true;
  }

  /** A frame arriving from the outside world on the NIC. */
  receiveFromWire(frame: Uint8Array): void {
    this.nic.receive(frame, (b) => new Skb(b));
  }

  // ------------------------------------------------------------ hotplug scripts

  /**
   * /etc/xen/scripts/vif-bridge and block, run by libxl on the calling thread.
   * vif online: brctl addif <bridge> vifD.N, then hotplug-status=connected;
   * offline: brctl delif. vbd online: "losetup" the image named by `params`,
   * write physical-device (7:N), physical-device-path and hotplug-status.
   */
  *hotplug(action: 'online' | 'offline', kind: 'vif' | 'vbd', bePath: string): Co<number> {
    const xb = this.xenbus;
    const parts = bePath.split('/');
    const devid = parts[parts.length - 1]!;
    const domid = parts[parts.length - 2]!;
    if (kind === 'vif') {
      const handle = (yield* xb.xs_read_opt(`${bePath}/handle`)) ?? devid;
      const vif = this.netback.vifs.get(`vif${domid}.${handle}`);
      if (action === 'offline') {
        if (vif) this.bridge.delif(vif);
        return 0;
      }
      if (vif) this.bridge.addif(vif);
      yield* xb.xs_write(`${bePath}/hotplug-status`, 'connected');
      return 0;
    }
    if (action === 'offline') return 0;
    const params = (yield* xb.xs_read_opt(`${bePath}/params`)) ?? '';
    const loop = this.blkback.losetup(params);
    yield* xb.transaction(function* (tx) {
      yield* xb.xs_write(`${bePath}/physical-device`, `7:${loop}`, tx);
      yield* xb.xs_write(`${bePath}/physical-device-path`, `/dev/loop${loop}`, tx);
      yield* xb.xs_write(`${bePath}/hotplug-status`, 'connected', tx);
    });
    return 0;
  }
}
