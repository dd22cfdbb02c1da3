// xen-blkback's request path (drivers/block/xen-blkback/blkback.c): the
// xenblkd thread (xen_blkif_schedule) consumes requests, maps the segment
// grants (kept mapped as persistent grants when the frontend supports them,
// up to max_persistent_grants), submits bios; completion copies read data
// into the guest pages, responds, and unmaps non-persistent grants.
// `inflight` counts requests between submit and response. Also the
// persistent grants' teardown (free_persistent_gnts), whose wait is stall
// case 3 of blkback.ts's header.

import {
  BLKIF_MAX_SEGMENTS_PER_REQUEST, BLKIF_OP, BLKIF_RSP, SECTORS_PER_PAGE, decodeRequest, encodeResponse, type BlkifRequest,
} from '../../abi/blkif.ts';
import { WaitQueue, call, frame, waitEvent, type Co } from '../../sim/index.ts';
import { SECTOR } from './disk.ts';
import { kthread_should_stop } from './kthread.ts';
import { GNTTAB_UNMAP_REFS_DELAY_NS, type BlkifRing } from './xen_blkif.ts';

/** gnttab_unmap_refs_sync for free_persistent_gnts: unmap every persistent grant, retrying while a page is still referenced. */
export const gnttab_unmap_refs_sync = frame('gnttab_unmap_refs_sync', function* (ring: BlkifRing): Co {
  const drv = ring.blkif.drv;
  const host = drv.ctx.host;
  let age = 0;
  for (;;) {
    for (const [gref, g] of [...ring.persistent_gnts]) {
      if (g.held) continue;
      host.gnttab.unmap(g.handle);
      ring.persistent_gnts.delete(gref);
    }
    if (ring.persistent_gnts.size === 0) return;
    // __gnttab_unmap_refs_async: try again in 5 ms × (age + 1); the caller waits for completion (D).
    ring.unmapRetries++;
    const wq = new WaitQueue();
    drv.unmapping.add(wq);
    let fired = false;
    const delay = GNTTAB_UNMAP_REFS_DELAY_NS * (age + 1);
    drv.ctx.sim.clock.after(delay, () => {
      fired = true;
      wq.wakeAll();
    }, 'gnttab_unmap_refs_async retry');
    yield* call('wait_for_completion', waitEvent(wq, () => fired, 'D'));
    drv.unmapping.delete(wq);
    age++;
  }
});

/** xen_blkif_schedule: the xenblkd loop. */
export function* xen_blkif_schedule(ring: BlkifRing): Co {
  for (;;) {
    yield* waitEvent(ring.wq, () => ring.waiting_reqs || kthread_should_stop(), 'S');
    if (kthread_should_stop()) break;
    ring.waiting_reqs = false;
    if (yield* do_block_io_op(ring)) ring.waiting_reqs = true;
  }
}

/**
 * do_block_io_op: true if more requests arrived while we were at it.
 * A WRITE_BARRIER first drains the ring (xen_blk_drain_io: every request
 * taken before it has completed), then goes down as a REQ_PREFLUSH write:
 * barrier = drain + flush, as dispatch_rw_block_io does it.
 */
function* do_block_io_op(ring: BlkifRing): Co<boolean> {
  for (;;) {
    const r = ring.ring;
    if (!r) return false;
    if (r.requestProdOverflow(r.sring.req_prod)) {
      // blkback.c: __do_block_io_op: "Frontend provided bogus ring requests
      // (%d - %d = %d). Halting ring processing on dev=%04x", then the ring
      // is left alone until the frontend reconnects.
      ring.blkif.stats.oo_req++;
      ring.blkif.drv.ctx.printk?.(`xen-blkback: dom${ring.blkif.domid}: frontend provided bogus ring requests (req_prod ${r.sring.req_prod}, rsp_prod_pvt ${r.rsp_prod_pvt}); halting ring processing`);
      return false;
    }
    while (r.unconsumedRequests() > 0) {
      const req = decodeRequest(r.sring.dv, r.nextRequest()); // RING_COPY_REQUEST, then validate
      if (req.operation === BLKIF_OP.WRITE_BARRIER && ring.inflight > 0) {
        yield* waitEvent(ring.waitingToFree, () => ring.inflight === 0 || kthread_should_stop(), 'D');
        if (ring.ring !== r) return false;
      }
      dispatch_rw_block_io(ring, req);
    }
    if (!r.finalCheckForRequests()) return false;
  }
}

/** dispatch_rw_block_io. */
function dispatch_rw_block_io(ring: BlkifRing, req: BlkifRequest & { nr_segments: number }): void {
  const blkif = ring.blkif;
  const drv = blkif.drv;
  const vbd = blkif.vbd;
  const fail = (status: number) => make_response(ring, req.id, req.operation, status);
  if (!vbd) return fail(BLKIF_RSP.ERROR);
  const barrier = req.operation === BLKIF_OP.WRITE_BARRIER;
  const isWrite = req.operation === BLKIF_OP.WRITE || barrier;
  // FLUSH_DISKCACHE, and a WRITE_BARRIER without data: an empty
  // REQ_PREFLUSH bio, answered once the disk has synced.
  if (req.operation === BLKIF_OP.FLUSH_DISKCACHE || (barrier && req.nr_segments === 0)) {
    blkif.stats.f_req++;
    if (vbd.readonly) return fail(BLKIF_RSP.ERROR);
    ring.inflight++;
    drv.queue.submit(vbd.disk, { op: 'flush', sector: 0, data: new Uint8Array(0), done: (e) => end_block_io_op(ring, req, [], e) });
    return;
  }
  if (req.operation !== BLKIF_OP.READ && !isWrite) return fail(BLKIF_RSP.EOPNOTSUPP);
  if (req.nr_segments === 0 || req.nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST) return fail(BLKIF_RSP.ERROR);
  if (isWrite && vbd.readonly) return fail(BLKIF_RSP.ERROR);
  let nsect = 0;
  for (const s of req.seg) {
    if (s.last_sect >= SECTORS_PER_PAGE || s.first_sect > s.last_sect) return fail(BLKIF_RSP.ERROR);
    nsect += s.last_sect - s.first_sect + 1;
  }
  const sector = Number(req.sector_number);
  if (sector + nsect > vbd.disk.sectors) return fail(BLKIF_RSP.ERROR);
  // xen_blkbk_map: persistent grants stay mapped; the others are unmapped after the I/O.
  const pages: Array<{ page: ArrayBuffer; off: number; len: number; handle: number; persistent: boolean }> = [];
  const host = drv.ctx.host;
  for (const s of req.seg) {
    let pg = ring.persistent_gnts.get(s.gref);
    let handle = -1;
    let page: ArrayBuffer;
    if (pg) page = pg.page;
    else {
      const m = host.gnttab.map(blkif.domid, s.gref, isWrite && !blkif.persistent);
      if (m.status !== 0 || !m.page) {
        for (const p of pages) if (!p.persistent) host.gnttab.unmap(p.handle);
        return fail(BLKIF_RSP.ERROR);
      }
      page = m.page;
      handle = m.handle;
      if (blkif.persistent && ring.persistent_gnts.size < drv.opts.maxPersistentGrants) {
        pg = { gref: s.gref, handle, page, held: false };
        ring.persistent_gnts.set(s.gref, pg);
        if (drv.holdNext) {
          pg.held = true;
          drv.holdNext = false;
        }
      }
    }
    pages.push({ page, off: s.first_sect * SECTOR, len: (s.last_sect - s.first_sect + 1) * SECTOR, handle, persistent: pg !== undefined });
  }
  const data = new Uint8Array(nsect * SECTOR);
  if (isWrite) {
    let o = 0;
    for (const p of pages) {
      data.set(new Uint8Array(p.page, p.off, p.len), o);
      o += p.len;
    }
    if (barrier) blkif.stats.f_req++;
    else blkif.stats.wr_req++;
    blkif.stats.wr_sect += nsect;
  } else {
    blkif.stats.rd_req++;
    blkif.stats.rd_sect += nsect;
  }
  ring.inflight++;
  drv.queue.submit(vbd.disk, {
    op: isWrite ? 'write' : 'read',
    preflush: barrier,
    sector,
    data,
    done: (err) => {
      if (!isWrite && err === 0) {
        let o = 0;
        for (const p of pages) {
          new Uint8Array(p.page, p.off, p.len).set(data.subarray(o, o + p.len));
          o += p.len;
        }
      }
      end_block_io_op(ring, req, pages, err);
    },
  });
}

/** end_block_io_op → __end_block_io_op: respond, unmap non-persistent grants, drop inflight. */
function end_block_io_op(ring: BlkifRing, req: BlkifRequest, pages: Array<{ handle: number; persistent: boolean }>, err: number): void {
  for (const p of pages) if (!p.persistent && p.handle >= 0) ring.blkif.drv.ctx.host.gnttab.unmap(p.handle);
  make_response(ring, req.id, req.operation, err === 0 ? BLKIF_RSP.OKAY : BLKIF_RSP.ERROR);
  ring.inflight--;
  if (ring.inflight === 0) ring.waitingToFree.wakeAll();
}

/** make_response: one response on the ring, and a notification if the frontend asked for one. */
function make_response(ring: BlkifRing, id: bigint, op: number, status: number): void {
  const r = ring.ring;
  if (!r) return;
  encodeResponse(r.sring.dv, r.nextResponse(), { id, operation: op, status });
  if (r.pushResponsesAndCheckNotify() && ring.port) ring.blkif.drv.ctx.host.evtchn.send(ring.port);
}
