// xen-blkback's driver and xenbus state machine (drivers/block/xen-blkback/xenbus.c).
//
// Handshake (docs/architecture.md §5.3), in a watch thread:
//   xen_blkbk_probe: feature-max-indirect-segments, multi-queue-max-queues,
//     watch <be>/physical-device (backend_changed), max-ring-page-order, → 2.
//   The block hotplug script writes physical-device (major:minor) and
//     physical-device-path; backend_changed opens the vbd (xen_vbd_create).
//   blkfront: ring-ref, event-channel, protocol, feature-persistent → 3.
//   frontend_changed(Initialised|Connected) → connect_ring (map the ring, bind
//     the event channel) → xen_update_blkif_status: when both the ring and the
//     vbd are there, connect() writes feature-flush-cache, feature-barrier,
//     feature-persistent, sectors, info, sector-size, physical-sector-size in
//     one transaction, → 4, and starts the I/O thread "<domid>.<dev>-<ring>"
//     (xenblkd; e.g. `[1.xvda-0]`).
//
// I/O (blkback_io.ts, blkback.c): xenblkd consumes requests and maps their
// grants (persistent ones stay mapped); `inflight` counts requests between
// submit and response. The per-device state is xen_blkif.ts (common.h).
//
// The two stalls (docs/architecture.md §5.2), as interleavings:
//   case 2 (in-flight I/O, the pre-4.2 disconnect, option disconnect='wait'):
//     1. a write is submitted, inflight = 1; 2. the backing store stops
//     answering (disk.stall); 3. the domain is destroyed → frontend_changed →
//     xen_blkif_disconnect stops xenblkd, then waits (D) for inflight == 0;
//     4. the watch thread is stuck until disk.resume() completes the bio.
//     With disconnect='ebusy' (current Linux) it returns -EBUSY instead.
//   case 3 (persistent grant held by the block layer):
//     1. a persistent grant's page has an extra reference (page_count > 1:
//     blockLayer.holdPersistentGrant); 2. disconnect → xen_blkbk_free_caches →
//     free_persistent_gnts → gnttab_unmap_refs_sync, which retries every
//     5 ms × (age + 1) while the page is held and never completes; 3. the
//     release lets the next retry unmap, the waiter completes.

import { XenbusState, type XenbusStateT } from '../../abi/xen.ts';
import { BackRing } from '../../abi/ring.ts';
import { BLKIF_ENTRY, VDISK } from '../../abi/blkif.ts';
import { WaitQueue, call, frame, waitEvent, type Co } from '../../sim/index.ts';
import { gnttab_unmap_refs_sync, xen_blkif_schedule } from './blkback_io.ts';
import { DiskImage, RequestQueue, SECTOR } from './disk.ts';
import { makeWatch, type Xenbus } from './xenbus.ts';
import {
  xenbus_dev_fatal, xenbus_dev_is_online, xenbus_switch_state, type XenbusDevice, type XenbusDriver,
} from './xenbus_probe.ts';
import type { XenbusWatch } from './xenwatch.ts';
import {
  BlkifRing, MAX_INDIRECT_SEGMENTS, XEN_BLKIF_MAX_RING_ORDER, XenBlkif, type BlkbackContext, type BlkbackDriver, type BlkbackOptions,
} from './xen_blkif.ts';

interface BeInfo {
  dev: XenbusDevice;
  blkif: XenBlkif;
  backend_watch: XenbusWatch | undefined;
  major: number;
  minor: number;
  mode: string;
}

export class Blkback implements XenbusDriver, BlkbackDriver {
  readonly type = 'vbd';
  readonly queue: RequestQueue;
  readonly opts: Required<BlkbackOptions>;
  /** Loop devices: minor → image path (losetup). */
  private readonly loops: string[] = [];
  private readonly images = new Map<string, DiskImage>();
  readonly blkifs = new Set<XenBlkif>();
  /** The block layer wants to keep the next persistent grant page it sees (BlkbackDriver). */
  holdNext = false;

  constructor(readonly ctx: BlkbackContext, opts: BlkbackOptions = {}) {
    this.opts = { disconnect: opts.disconnect ?? 'wait', latencyNs: opts.latencyNs ?? 100_000, maxPersistentGrants: opts.maxPersistentGrants ?? 1056 };
    this.queue = new RequestQueue(ctx.sim, this.opts.latencyNs);
  }

  private get xb(): Xenbus {
    return this.ctx.xb;
  }

  /** losetup -f IMAGE: the loop minor now backed by `params` (a path, optionally `file:`/`aio:` prefixed). */
  losetup(params: string): number {
    const path = params.replace(/^(file|aio|phy|raw):/, '');
    const i = this.loops.indexOf(path);
    if (i >= 0) return i;
    this.loops.push(path);
    return this.loops.length - 1;
  }

  // ------------------------------------------------------------ block layer faults

  /** Keep a reference on a persistent grant page (the existing first one, else the next one mapped). */
  holdPersistentGrant(): boolean {
    for (const b of this.blkifs) for (const r of b.rings) for (const g of r.persistent_gnts.values()) {
      g.held = true;
      return true;
    }
    this.holdNext = true;
    return false;
  }

  /** Drop every extra page reference. */
  releasePersistentGrants(): void {
    this.holdNext = false;
    for (const b of this.blkifs) for (const r of b.rings) for (const g of r.persistent_gnts.values()) g.held = false;
    for (const r of this.unmapping) r.wakeAll();
  }
  /** gnttab_unmap_refs_sync waits under way (BlkbackDriver). */
  readonly unmapping = new Set<WaitQueue>();

  // ------------------------------------------------------------ xenbus.c

  readonly probe = frame('xen_blkbk_probe', function* (this: Blkback, dev: XenbusDevice): Co {
    const xb = this.xb;
    const be: BeInfo = { dev, blkif: new XenBlkif(this, dev.otherend_id), backend_watch: undefined, major: 0, minor: 0, mode: '' };
    dev.drvdata = be;
    this.blkifs.add(be.blkif);
    yield* xb.xs_write(`${dev.nodename}/feature-max-indirect-segments`, String(MAX_INDIRECT_SEGMENTS));
    yield* xb.xs_write(`${dev.nodename}/multi-queue-max-queues`, '1');
    const w = makeWatch(`${dev.nodename}/physical-device`, () => call('backend_changed', this.backendChanged(be)), {
      get_domid: () => dev.otherend_id,
      owner: dev.otherend_id,
    });
    yield* xb.register_xenbus_watch(w);
    be.backend_watch = w;
    yield* xb.xs_write(`${dev.nodename}/max-ring-page-order`, String(XEN_BLKIF_MAX_RING_ORDER));
    yield* xenbus_switch_state(dev, XenbusState.InitWait);
  });

  /** The physical-device watch: open the vbd once the hotplug script has written it. */
  private *backendChanged(be: BeInfo): Co {
    const xb = this.xb;
    const n = be.dev.nodename;
    const pd = yield* xb.xs_read_opt(`${n}/physical-device`);
    // Fires once at registration, before the script ran: expected, ignore.
    if (pd === undefined) return;
    const m = /^([0-9a-fA-F]+):([0-9a-fA-F]+)$/.exec(pd);
    if (!m) {
      yield* xenbus_dev_fatal(be.dev, -22, `reading physical-device ${pd}`);
      return;
    }
    const major = parseInt(m[1]!, 16), minor = parseInt(m[2]!, 16);
    if ((be.major || be.minor) && (be.major !== major || be.minor !== minor)) {
      be.dev.bus.errors.push(`${n}: changing physical device (from ${be.major}:${be.minor} to ${major}:${minor}) not supported.`);
      return;
    }
    if (be.blkif.vbd) return;
    be.mode = (yield* xb.xs_read_opt(`${n}/mode`)) ?? 'w';
    const devType = (yield* xb.xs_read_opt(`${be.dev.otherend}/device-type`)) ?? 'disk';
    const path = this.resolveImage(major, minor, yield* xb.xs_read_opt(`${n}/physical-device-path`), yield* xb.xs_read_opt(`${n}/params`));
    const readonly = !be.mode.includes('w');
    let disk: DiskImage;
    try {
      disk = this.images.get(path) ?? new DiskImage(path, readonly);
    } catch (e) {
      yield* xenbus_dev_fatal(be.dev, -2, `creating vbd structure: ${(e as Error).message}`);
      return;
    }
    this.images.set(path, disk);
    be.major = major;
    be.minor = minor;
    be.blkif.vbd = { disk, readonly, cdrom: devType === 'cdrom', handle: Number(be.dev.devid) };
    yield* this.updateStatus(be);
  }

  private resolveImage(major: number, minor: number, devPath: string | undefined, params: string | undefined): string {
    if (major === 7 && this.loops[minor] !== undefined) return this.loops[minor]!;
    const p = devPath && !devPath.startsWith('/dev/loop') ? devPath : params ?? '';
    return p.replace(/^(file|aio|phy|raw):/, '');
  }

  readonly otherend_changed = frame('frontend_changed', function* (this: Blkback, dev: XenbusDevice, fstate: XenbusStateT): Co {
    const be = dev.drvdata as BeInfo;
    const S = XenbusState;
    switch (fstate) {
      case S.Initialising:
        if (dev.state === S.Closed) yield* xenbus_switch_state(dev, S.InitWait); // reconnect
        break;
      case S.Initialised:
      case S.Connected: {
        // Two watches in close succession may skip Initialised: connect once.
        if (dev.state === S.Connected) break;
        const err = yield* this.xen_blkif_disconnect(be.blkif);
        if (err) {
          yield* xenbus_dev_fatal(dev, err, 'pending I/O');
          break;
        }
        if (!(yield* call('connect_ring', this.connectRing(be)))) {
          yield* this.xen_blkif_disconnect(be.blkif);
          break;
        }
        yield* this.updateStatus(be);
        break;
      }
      case S.Closing:
        yield* xenbus_switch_state(dev, S.Closing);
        break;
      case S.Closed:
        yield* this.xen_blkif_disconnect(be.blkif);
        yield* xenbus_switch_state(dev, S.Closed);
        if (yield* xenbus_dev_is_online(dev)) break;
      // falls through
      case S.Unknown:
        yield* dev.bus.device_unregister(dev);
        break;
      default:
        break;
    }
  });

  /** connect_ring + xen_blkif_map: protocol, persistent grants, ring-ref, event-channel. */
  private *connectRing(be: BeInfo): Co<boolean> {
    const xb = this.xb;
    const fe = be.dev.otherend;
    const proto = (yield* xb.xs_read_opt(`${fe}/protocol`)) ?? 'x86_64-abi';
    if (proto !== 'x86_64-abi') {
      yield* xenbus_dev_fatal(be.dev, -38, `unknown fe protocol ${proto}`);
      return false;
    }
    be.blkif.persistent = Number((yield* xb.xs_read_opt(`${fe}/feature-persistent`)) ?? '0') === 1;
    const order = Number((yield* xb.xs_read_opt(`${fe}/ring-page-order`)) ?? '0');
    const ref = yield* xb.xs_read_opt(order === 0 ? `${fe}/ring-ref` : `${fe}/ring-ref0`);
    const evt = yield* xb.xs_read_opt(`${fe}/event-channel`);
    if (ref === undefined || evt === undefined || order !== 0) {
      yield* xenbus_dev_fatal(be.dev, -22, `reading ${fe}/ring-ref and event-channel`);
      return false;
    }
    const ring = new BlkifRing(be.blkif, 0);
    const host = this.ctx.host;
    const m = host.gnttab.map(be.blkif.domid, Number(ref), false);
    if (m.status !== 0 || !m.page) {
      yield* xenbus_dev_fatal(be.dev, -12, `mapping ring-ref ${ref} port ${evt}`);
      return false;
    }
    ring.ringHandle = m.handle;
    ring.ring = BackRing.attach(m.page, BLKIF_ENTRY);
    const port = host.evtchn.bindInterdomain(be.blkif.domid, Number(evt));
    if (port < 0) {
      host.gnttab.unmap(m.handle);
      yield* xenbus_dev_fatal(be.dev, port, `binding event-channel ${evt}`);
      return false;
    }
    ring.port = port;
    host.bindHandler(port, () => {
      ring.waiting_reqs = true;
      ring.wq.wakeAll();
    }, `blkif-backend (d${be.blkif.domid})`);
    ring.active = true;
    be.blkif.rings = [ring];
    return true;
  }

  /** xen_update_blkif_status: connect when both the ring and the vbd are ready, then start xenblkd. */
  private *updateStatus(be: BeInfo): Co {
    const blkif = be.blkif;
    const ring = blkif.rings[0];
    if (!ring || !ring.port || !blkif.vbd || be.dev.state === XenbusState.Connected) return;
    yield* call('connect', this.connect(be));
    if ((be.dev.state as number) !== XenbusState.Connected) return;
    const devpath = (yield* this.xb.xs_read_opt(`${be.dev.nodename}/dev`)) ?? String(be.dev.devid);
    const devname = devpath.includes('/dev/') ? devpath.slice(devpath.indexOf('/dev/') + 5) : devpath;
    const name = `${blkif.domid}.${devname}`.slice(0, 15);
    for (const r of blkif.rings) {
      r.xenblkd = this.ctx.kthreads.run(`${name}-${r.id}`, 'xen_blkif_schedule', () => xen_blkif_schedule(r));
    }
  }

  private *connect(be: BeInfo): Co {
    const xb = this.xb;
    const n = be.dev.nodename;
    const vbd = be.blkif.vbd!;
    const info = (vbd.readonly ? VDISK.READONLY : 0) | (vbd.cdrom ? VDISK.CDROM : 0);
    try {
      yield* xb.transaction(function* (tx) {
        // xen_blkbk_flush_diskcache and xen_blkbk_barrier both write
        // vbd.flush_support: every disk here takes a flush (an image file is
        // fdatasync'ed, a mem: disk has nothing volatile), so both are 1 and
        // both operations are served (dispatch).
        yield* xb.xs_write(`${n}/feature-flush-cache`, '1', tx);
        yield* xb.xs_write(`${n}/feature-barrier`, '1', tx);
        yield* xb.xs_write(`${n}/feature-persistent`, '1', tx);
        yield* xb.xs_write(`${n}/sectors`, String(vbd.disk.sectors), tx);
        yield* xb.xs_write(`${n}/info`, String(info), tx);
        yield* xb.xs_write(`${n}/sector-size`, String(SECTOR), tx);
        yield* xb.xs_write(`${n}/physical-sector-size`, String(SECTOR), tx);
      });
    } catch {
      yield* xenbus_dev_fatal(be.dev, -5, 'ending transaction');
      return;
    }
    yield* xenbus_switch_state(be.dev, XenbusState.Connected);
  }

  // ------------------------------------------------------------ disconnect

  /** xen_blkif_disconnect: 0, or -EBUSY (current Linux) while I/O is in flight. */
  readonly xen_blkif_disconnect = frame('xen_blkif_disconnect', function* (this: Blkback, blkif: XenBlkif): Co<number> {
    const host = this.ctx.host;
    let busy = false;
    for (const ring of blkif.rings) {
      if (!ring.active) continue;
      if (ring.xenblkd) {
        yield* this.ctx.kthreads.stop(ring.xenblkd);
        ring.xenblkd = undefined;
      }
      if (ring.inflight > 0) {
        if (this.opts.disconnect === 'ebusy') {
          busy = true;
          continue;
        }
        // The pre-4.2 code: drop our reference and wait for the last one (D).
        yield* waitEvent(ring.waitingToFree, () => ring.inflight === 0, 'D');
      }
      if (ring.port) {
        host.bindHandler(ring.port, undefined);
        host.evtchn.close(ring.port);
        ring.port = 0;
      }
      if (ring.ringHandle >= 0) host.gnttab.unmap(ring.ringHandle);
      ring.ringHandle = -1;
      ring.ring = undefined;
      yield* call('xen_blkbk_free_caches', call('free_persistent_gnts', gnttab_unmap_refs_sync(ring)));
      ring.active = false;
    }
    if (busy) return -16;
    blkif.rings = blkif.rings.filter((r) => r.active);
    return 0;
  });

  readonly remove = frame('xen_blkbk_remove', function* (this: Blkback, dev: XenbusDevice): Co {
    const be = dev.drvdata as BeInfo | undefined;
    if (!be) return;
    if (be.backend_watch) {
      const w = be.backend_watch;
      be.backend_watch = undefined;
      yield* this.xb.unregister_xenbus_watch(w);
    }
    yield* this.xen_blkif_disconnect(be.blkif);
    this.blkifs.delete(be.blkif);
  });

  /** Sum of in-flight requests (tests, scenario views). */
  get inflight(): number {
    let n = 0;
    for (const b of this.blkifs) for (const r of b.rings) n += r.inflight;
    return n;
  }
}
