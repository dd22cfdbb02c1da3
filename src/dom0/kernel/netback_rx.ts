// xen-netback's guest RX thread, dom0 → guest (drivers/net/xen-netback/rx.c:
// xenvif_kthread_guest_rx, xenvif_rx_action): packets queued by
// xenvif_start_xmit (xenvif.ts) are copied into the buffers the guest posted.

import { NETIF_RSP, NETRXF, decodeRxRequest, encodeRxResponse } from '../../abi/netif.ts';
import { waitEvent, type Co } from '../../sim/index.ts';
import { grantCopy } from './host.ts';
import { kthread_should_stop } from './kthread.ts';
import type { XenvifQueue } from './xenvif.ts';

/** xenvif_kthread_guest_rx: copy queued packets into the guest's posted rx buffers. */
export function* xenvif_kthread_guest_rx(q: XenvifQueue): Co {
  for (;;) {
    yield* waitEvent(q.rx_wq, () => kthread_should_stop() || (q.rx_queue.length > 0 && (q.rx?.unconsumedRequests() ?? 0) > 0), 'S');
    if (kthread_should_stop()) break;
    xenvif_rx_action(q);
  }
  q.rx_queue.length = 0; // xenvif_rx_queue_purge
  q.rx_queue_len = 0;
}

function xenvif_rx_action(q: XenvifQueue): void {
  const ring = q.rx;
  if (!ring) return;
  const dv = ring.sring.dv;
  let notify = false;
  while (q.rx_queue.length > 0) {
    const pkt = q.rx_queue[0]!;
    const need = Math.max(1, Math.ceil(pkt.length / 4096));
    if (ring.unconsumedRequests() < need) {
      ring.finalCheckForRequests(); // ask for an event when more buffers arrive
      break;
    }
    q.rx_queue.shift();
    q.rx_queue_len -= pkt.length;
    for (let off = 0, i = 0; i < need; i++, off += 4096) {
      const req = decodeRxRequest(dv, ring.nextRequest());
      const chunk = pkt.subarray(off, Math.min(pkt.length, off + 4096));
      const st = grantCopy(q.vif.ctx.host, q.vif.domid, req.gref, 0, chunk, 'to-grant');
      const flags = (i === 0 ? NETRXF.data_validated : 0) | (i < need - 1 ? NETRXF.more_data : 0);
      encodeRxResponse(dv, ring.nextResponse(), { id: req.id, offset: 0, flags, status: st === 0 ? chunk.length : NETIF_RSP.ERROR });
    }
    q.vif.stats.rx_packets++;
    q.vif.stats.rx_bytes += pkt.length;
    if (ring.pushResponsesAndCheckNotify()) notify = true;
  }
  if (notify) q.vif.ctx.host.evtchn.send(q.rxPort);
}
