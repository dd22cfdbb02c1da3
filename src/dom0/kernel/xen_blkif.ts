// xen-blkback's per-device state (drivers/block/xen-blkback/common.h: struct
// xen_blkif, struct xen_blkif_ring, struct persistent_gnt), and what the
// request path (blkback_io.ts, blkback.c) uses of the driver (blkback.ts,
// xenbus.c).

import type { BackRing } from '../../abi/ring.ts';
import { WaitQueue, type Sim } from '../../sim/index.ts';
import type { DiskImage, RequestQueue } from './disk.ts';
import type { Dom0Host } from './host.ts';
import type { Kthread, Kthreads } from './kthread.ts';
import type { Xenbus } from './xenbus.ts';
import type { BackendBus } from './xenbus_probe.ts';

export interface BlkbackContext {
  xb: Xenbus;
  bus: BackendBus;
  kthreads: Kthreads;
  host: Dom0Host;
  sim: Sim;
  /** dom0's kernel log (dmesg): one line per drop or halt. */
  printk?: (line: string) => void;
}

export interface BlkbackOptions {
  /** 'wait': the old disconnect that waits for in-flight I/O (stall case 2); 'ebusy': current Linux. */
  disconnect?: 'wait' | 'ebusy';
  /** Bio completion latency (ns, default 100 µs). */
  latencyNs?: number;
  /** xen_blkif_max_pgrants (default 1056). */
  maxPersistentGrants?: number;
}

/** MAX_INDIRECT_SEGMENTS and xen_blkif_max_ring_order as Linux advertises them. */
export const MAX_INDIRECT_SEGMENTS = 256;
export const XEN_BLKIF_MAX_RING_ORDER = 4;
/** GNTTAB_UNMAP_REFS_DELAY: 5 ms. */
export const GNTTAB_UNMAP_REFS_DELAY_NS = 5_000_000;

export interface PersistentGnt {
  gref: number;
  handle: number;
  page: ArrayBuffer;
  /** page_count() > 1: someone else (the block layer) holds the page. */
  held: boolean;
}

/**
 * The driver's state the request path shares (Blkback implements it): the
 * block layer's queue, the options, and the block layer's holds on
 * persistent grant pages (written by holdPersistentGrant and
 * releasePersistentGrants, read by the xenblkd threads; no `yield*` between
 * a read and its use).
 */
export interface BlkbackDriver {
  readonly ctx: BlkbackContext;
  readonly queue: RequestQueue;
  readonly opts: Required<BlkbackOptions>;
  /** The block layer wants to keep the next persistent grant page it sees. */
  holdNext: boolean;
  /** The waits of gnttab_unmap_refs_sync under way, woken early when the pages are released. */
  readonly unmapping: Set<WaitQueue>;
}

export class BlkifRing {
  ring: BackRing | undefined;
  ringHandle = -1;
  port = 0;
  xenblkd: Kthread | undefined;
  readonly wq = new WaitQueue();
  /** Waiters for inflight == 0 (the old waiting_to_free). */
  readonly waitingToFree = new WaitQueue();
  waiting_reqs = false;
  inflight = 0;
  readonly persistent_gnts = new Map<number, PersistentGnt>();
  active = false;
  /** gnttab_unmap_refs_sync retries done (tests). */
  unmapRetries = 0;
  constructor(readonly blkif: XenBlkif, readonly id: number) {}
}

export class XenBlkif {
  rings: BlkifRing[] = [];
  vbd: { disk: DiskImage; readonly: boolean; cdrom: boolean; handle: number } | undefined;
  /** Frontend supports persistent grants. */
  persistent = false;
  stats = { rd_req: 0, wr_req: 0, f_req: 0, oo_req: 0, rd_sect: 0, wr_sect: 0 };
  constructor(readonly drv: BlkbackDriver, readonly domid: number) {}
}
