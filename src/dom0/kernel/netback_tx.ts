// xen-netback's TX path, guest → dom0 (drivers/net/xen-netback/netback.c:
// xenvif_tx_action, xenvif_zerocopy_callback, xenvif_dealloc_kthread,
// make_tx_response, xenvif_fatal_tx_err).
//
// The first XEN_NETBACK_TX_COPY_LEN (128) bytes are copied into the skb head;
// the rest of the packet is grant-mapped as frags (zerocopy). A packet that
// fits in 128 bytes is answered at once. A zerocopy packet counts in
// inflight_packets and tx_zerocopy_sent until its last user frees it; then
// xenvif_zerocopy_callback queues it for the dealloc thread (tx_zerocopy_success
// / _fail), which unmaps the grants and only then sends the TX responses.

import type { BackRing } from '../../abi/ring.ts';
import { NETIF_RSP, NETTXF, XEN_NETBACK_TX_COPY_LEN, XEN_NETIF_NR_SLOTS_MIN, decodeTxRequest, encodeTxResponse, type NetifTxRequest } from '../../abi/netif.ts';
import { waitEvent, type Co } from '../../sim/index.ts';
import { grantCopy, type Dom0Host } from './host.ts';
import { kthread_should_stop } from './kthread.ts';
import { Skb, type SkbFrag } from './skb.ts';
import type { XenvifQueue } from './xenvif.ts';

/** xenvif_tx_action: every packet the guest has posted, until the ring is empty (NAPI polls run to completion here). */
export function xenvif_tx_action(q: XenvifQueue): void {
  const ring = q.tx;
  if (!ring) return;
  let more = true;
  while (more) {
    while (ring.unconsumedRequests() > 0) {
      if (!txOne(q, ring)) return;
    }
    more = ring.finalCheckForRequests();
  }
}

/** Build one packet from the ring (xenvif_tx_build_gops + xenvif_tx_submit). False on a fatal ring error. */
function txOne(q: XenvifQueue, ring: BackRing): boolean {
  const vif = q.vif;
  const dv = ring.sring.dv;
  if (ring.requestProdOverflow(ring.sring.req_prod)) {
    vif.stats.tx_errors++;
    fatalTxError(q, 'req_prod overflow');
    return false;
  }
  const slots: NetifTxRequest[] = [decodeTxRequest(dv, ring.nextRequest())];
  if (slots[0]!.flags & NETTXF.extra_info) ring.nextRequest(); // extra info (GSO) slot: nothing to map
  while (slots[slots.length - 1]!.flags & NETTXF.more_data) {
    if (ring.unconsumedRequests() === 0 || slots.length >= XEN_NETIF_NR_SLOTS_MIN) {
      vif.stats.tx_frag_overflow++;
      fatalTxError(q, 'too many slots');
      return false;
    }
    slots.push(decodeTxRequest(dv, ring.nextRequest()));
  }
  const first = slots[0]!;
  const fragBytes = slots.slice(1).reduce((a, s) => a + s.size, 0);
  const firstLen = first.size - fragBytes;
  const bad = firstLen < 0 || slots.some((s, i) => s.offset + (i === 0 ? firstLen : s.size) > 4096);
  if (bad) {
    make_tx_response(q, slots.map((s) => s.id), NETIF_RSP.ERROR);
    return true;
  }
  const domid = vif.domid;
  const host = vif.ctx.host;
  const headLen = Math.min(XEN_NETBACK_TX_COPY_LEN, firstLen);
  const head = new Uint8Array(headLen);
  if (grantCopy(host, domid, first.gref, first.offset, head, 'from-grant') !== 0) {
    make_tx_response(q, slots.map((s) => s.id), NETIF_RSP.ERROR);
    return true;
  }
  const frags: SkbFrag[] = [];
  const handles: number[] = [];
  let ok = mapFrag(host, domid, first.gref, first.offset + headLen, firstLen - headLen, frags, handles);
  for (let i = 1; i < slots.length && ok; i++) ok = mapFrag(host, domid, slots[i]!.gref, slots[i]!.offset, slots[i]!.size, frags, handles);
  if (!ok) {
    for (const h of handles) host.gnttab.unmap(h);
    make_tx_response(q, slots.map((s) => s.id), NETIF_RSP.ERROR);
    return true;
  }
  vif.stats.tx_packets++;
  vif.stats.tx_bytes += first.size;
  let skb: Skb;
  if (frags.length === 0) {
    // Fully copied: the guest gets its response now (xenvif_idx_release).
    skb = new Skb(head);
    make_tx_response(q, slots.map((s) => s.id), NETIF_RSP.OKAY);
  } else {
    const p = q.allocPending(slots.map((s) => s.id), handles);
    skb = new Skb(head, frags, {
      refs: 1,
      copied: false,
      callback: (success) => xenvif_zerocopy_callback(q, p.idx, success),
    });
    // xenvif_skb_zerocopy_prepare
    q.inflight_packets++;
    vif.stats.tx_zerocopy_sent++;
  }
  skb.dev = vif.name;
  // netif_receive_skb → the bridge (a vif not on a bridge drops it).
  if (vif.ctx.bridge.has(vif)) vif.ctx.bridge.receive(skb, vif);
  else skb.free();
  return true;
}

/** xenvif_zerocopy_callback + xenvif_skb_zerocopy_complete. */
function xenvif_zerocopy_callback(q: XenvifQueue, idx: number, success: boolean): void {
  q.dealloc_queue.push(idx);
  if (success) q.vif.stats.tx_zerocopy_success++;
  else q.vif.stats.tx_zerocopy_fail++;
  q.inflight_packets--;
  q.dealloc_wq.wakeAll();
}

function fatalTxError(q: XenvifQueue, why: string): void {
  // xenvif_fatal_tx_err: carrier off, stop processing this queue.
  q.vif.carrier = false;
  q.vif.stats.tx_errors++;
  q.vif.ctx.bus.errors.push(`${q.vif.name}: fatal TX error: ${why}`);
  // xenvif_fatal_tx_err: netdev_err(vif->dev, "fatal error; disabling device").
  q.vif.ctx.printk?.(`${q.vif.name}: dom${q.vif.domid}: fatal error (${why}); disabling device`);
}

function make_tx_response(q: XenvifQueue, ids: number[], status: number): void {
  const ring = q.tx;
  if (!ring) return;
  const dv = ring.sring.dv;
  ids.forEach((id, i) => encodeTxResponse(dv, ring.nextResponse(), { id, status: i === 0 ? status : status === NETIF_RSP.OKAY ? NETIF_RSP.OKAY : status }));
  if (ring.pushResponsesAndCheckNotify()) q.vif.ctx.host.evtchn.send(q.txPort);
}

/** xenvif_dealloc_kthread: exits only when asked to stop AND nothing is in flight. */
export function* xenvif_dealloc_kthread(q: XenvifQueue): Co {
  const shouldStop = () => kthread_should_stop() && q.inflight_packets === 0;
  for (;;) {
    yield* waitEvent(q.dealloc_wq, () => q.dealloc_queue.length > 0 || shouldStop(), 'S');
    if (shouldStop()) break;
    deallocAction(q);
  }
  if (q.dealloc_queue.length > 0) deallocAction(q);
}

/** xenvif_tx_dealloc_action: unmap, then respond. */
function deallocAction(q: XenvifQueue): void {
  const ids: number[] = [];
  while (q.dealloc_queue.length > 0) {
    const p = q.pending.get(q.dealloc_queue.shift()!);
    if (!p) continue;
    q.pending.delete(p.idx);
    for (const h of p.handles) q.vif.ctx.host.gnttab.unmap(h);
    ids.push(...p.ids);
  }
  if (ids.length) make_tx_response(q, ids, NETIF_RSP.OKAY);
}

/**
 * Grant-map `len` bytes of a TX slot as an skb frag (nothing for 0 bytes).
 * A module function, not a closure per packet: under tsx's keepNames every
 * named closure costs a defineProperty each time it is created.
 */
function mapFrag(host: Dom0Host, domid: number, gref: number, offset: number, len: number, frags: SkbFrag[], handles: number[]): boolean {
  if (len === 0) return true;
  const m = host.gnttab.map(domid, gref, true);
  if (m.status !== 0 || !m.page) return false;
  handles.push(m.handle);
  frags.push({ page: m.page, offset, len });
  return true;
}
