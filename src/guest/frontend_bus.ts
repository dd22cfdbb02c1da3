// The guest's frontend bus: devices of one kind that come and go while the
// kernel runs (`xl network-attach` / `network-detach`, `block-attach` /
// `block-detach`). Linux splits this between xenbus_probe_frontend.c (a watch
// on "device": a new device/<type>/<id> is probed) and each driver's
// otherend_changed (netfront's netback_changed, blkfront's blkback_changed:
// the backend going Closing closes the frontend); Mini-OS has neither and
// connects once. Here:
//
//   * one watch on device/<kind>: an event under device/<kind>/<id> for an id
//     the bus is not handling probes it: a frontend whose state is
//     Initialising and that names a backend is made and connected;
//   * per connected device, a watch on <backend>/state: Closing, Closed or
//     gone (libxl's removal writes online=0 and Closing) → disconnect (the
//     driver's Closing → Closed handshake, then every grant ended and the
//     port closed), then wait until that Closed frontend is gone (removed, or
//     replaced by a new device) before the id may be probed again.
//
// Races, as interleavings:
//   1. detach + attach of the same id while the old device still closes:
//      the new directory's events arrive while the id is busy and are
//      ignored; when the old device is released the bus scans the whole
//      directory once, so the new device is probed then. The removal and the
//      re-creation may both be committed before the closing side reads the
//      node again: it waits for "not Closed", not for "gone".
//   2. two events for a new id back to back: the id is marked busy before
//      the first read, so it is probed once.
// A device removed while it is still connecting (its backend never reaches
// InitWait) keeps its id busy: the drivers' connect() does not give up.

import type { Subscription } from 'rxjs';
import { XenbusState } from '../abi/xen.ts';
import { Lwt } from './runtime.ts';
import { frontendReleased, waitFor } from './xenbus.ts';
import type { XsClient } from './xs.ts';

/** What the bus needs of a driver (Netfront and Blkfront have it). */
export interface Frontend {
  readonly backend: string;
  /** True once connected; false when the device was removed first (then disconnect() cleans up). */
  connect(): Promise<boolean>;
  /** Close with the backend and give every grant back; true when every grant could be ended. */
  disconnect(): Promise<boolean>;
}

export interface FrontendBusHooks<F> {
  /** The device is connected (the backend is Connected). */
  attached?(f: F, devid: number): void;
  /** The device was closed on the toolstack's request; `all`: every grant ended. */
  detached?(f: F, devid: number, all: boolean): void;
}

export class FrontendBus<F extends Frontend> {
  /** Connected devices by id. */
  readonly devices = new Map<number, F>();
  /** Ids being probed, connected or torn down (race 2). */
  private readonly busy = new Set<number>();
  private dirWatch: Subscription | undefined;
  private readonly waiters: Lwt.Resolver<F>[] = [];
  /** Devices connected and closed since start (stats). */
  attaches = 0;
  detaches = 0;
  /** A probe that failed (an xenstore error while connecting or closing), for the kernel to print. */
  readonly errors: string[] = [];

  constructor(
    readonly xs: XsClient,
    readonly kind: 'vif' | 'vbd',
    readonly make: (devid: number) => F,
    readonly hooks: FrontendBusHooks<F> = {},
  ) {}

  get dir(): string {
    return `device/${this.kind}`;
  }

  /** Watch device/<kind>; the watch's first event scans what is there already. */
  start(): void {
    if (this.dirWatch) return;
    this.dirWatch = this.xs.watch(this.dir).subscribe({ next: (path) => this.changed(path) });
  }

  /** Some connected device: now, or the next one to connect. */
  ready(): Lwt.Lwt<F> {
    const f = this.first();
    if (f) return Lwt.return_(f);
    const [p, r] = Lwt.wait<F>();
    this.waiters.push(r);
    return p;
  }

  /** The connected device with the lowest id, if any. */
  first(): F | undefined {
    let best: number | undefined;
    for (const id of this.devices.keys()) if (best === undefined || id < best) best = id;
    return best === undefined ? undefined : this.devices.get(best);
  }

  /** xenbus_dev_changed for the frontend bus: the id under device/<kind>/, or a scan for the directory itself. */
  private changed(path: string): void {
    const at = path.indexOf(`${this.dir}/`);
    if (at < 0) {
      this.scan();
      return;
    }
    const id = path.slice(at + this.dir.length + 1).split('/')[0]!;
    if (/^\d+$/.test(id) && !this.busy.has(Number(id))) this.spawn(Number(id));
  }

  private scan(): void {
    void Lwt.catch_(() => this.xs.directory(this.dir), () => [] as string[]).map_((kids) => {
      for (const k of kids) if (/^\d+$/.test(k) && !this.busy.has(Number(k))) this.spawn(Number(k));
    });
  }

  private spawn(devid: number): void {
    this.probe(devid).catch((e: unknown) => {
      // Bounded: the last 16.
      if (this.errors.push(`${this.dir}/${devid}: ${e instanceof Error ? e.message : String(e)}`) > 16) this.errors.shift();
    });
  }

  private async probe(devid: number): Promise<void> {
    this.busy.add(devid);
    const fe = `${this.dir}/${devid}`;
    let rescan = false;
    try {
      const state = await this.xs.tryRead(`${fe}/state`);
      const backend = await this.xs.tryRead(`${fe}/backend`);
      // Closed and waiting for removal, or half written: not a device to connect (yet).
      if (backend === undefined || Number(state) !== XenbusState.Initialising) return;
      const f = this.make(devid);
      // A connect the toolstack cut short (removed before Connected) goes straight to the close.
      if (await f.connect()) {
        this.devices.set(devid, f);
        this.attaches++;
        this.hooks.attached?.(f, devid);
        for (const w of this.waiters.splice(0)) Lwt.wakeup(w, f);
        // otherend_changed: the toolstack's removal starts with the backend going Closing.
        await waitFor(this.xs, `${f.backend}/state`, (v) => v === undefined || Number(v) >= XenbusState.Closing);
        this.devices.delete(devid);
      }
      const all = await f.disconnect();
      this.detaches++;
      this.hooks.detached?.(f, devid, all);
      // The id is free once the Closed frontend is released (race 1; frontendReleased says how).
      await frontendReleased(this.xs, fe);
      rescan = true;
    } finally {
      this.busy.delete(devid);
      if (rescan) this.scan();
    }
  }
}
