// Connecting and disconnecting one vif's queues (drivers/net/xen-netback/
// interface.c: xenvif_connect_data, xenvif_disconnect_data, and the interrupt
// handlers it binds). Called from the xenbus state machine (netback.ts).
//
// xenvif_disconnect_data stops the dealloc thread with kthread_stop, which
// returns only once that thread exits: when kthread_should_stop() and
// inflight_packets == 0 (netback_tx.ts). A packet a NIC still holds keeps the
// caller (the xenwatch thread) in D: the stall of netback.ts's header.

import { BackRing } from '../../abi/ring.ts';
import { NETIF_RX_ENTRY, NETIF_TX_ENTRY } from '../../abi/netif.ts';
import { frame, type Co } from '../../sim/index.ts';
import { xenvif_dealloc_kthread, xenvif_tx_action } from './netback_tx.ts';
import { xenvif_kthread_guest_rx } from './netback_rx.ts';
import { NetbackError, type Xenvif, type XenvifQueue } from './xenvif.ts';

/** xenvif_connect_data(): map rings, bind event channel(s), start the two threads. */
export function* xenvif_connect_data(q: XenvifQueue, txRef: number, rxRef: number, txEv: number, rxEv: number): Co {
  const { host, kthreads } = q.vif.ctx;
  const domid = q.vif.domid;
  const tm = host.gnttab.map(domid, txRef, false);
  if (tm.status !== 0 || !tm.page) throw new NetbackError(-12, `mapping tx ring-ref ${txRef} (status ${tm.status})`);
  q.txHandle = tm.handle;
  const rm = host.gnttab.map(domid, rxRef, false);
  if (rm.status !== 0 || !rm.page) throw new NetbackError(-12, `mapping rx ring-ref ${rxRef} (status ${rm.status})`);
  q.rxHandle = rm.handle;
  try {
    q.tx = BackRing.attach(tm.page, NETIF_TX_ENTRY);
    q.rx = BackRing.attach(rm.page, NETIF_RX_ENTRY);
  } catch (e) {
    throw new NetbackError(-22, `ring attach: ${(e as Error).message}`);
  }
  const tp = host.evtchn.bindInterdomain(domid, txEv);
  if (tp < 0) throw new NetbackError(tp, `binding event-channel ${txEv}`);
  q.txPort = tp;
  if (rxEv !== txEv) {
    const rp = host.evtchn.bindInterdomain(domid, rxEv);
    if (rp < 0) throw new NetbackError(rp, `binding event-channel-rx ${rxEv}`);
    q.rxPort = rp;
    host.bindHandler(tp, () => xenvif_tx_interrupt(q), `${q.name}-tx`);
    host.bindHandler(rp, () => xenvif_rx_interrupt(q), `${q.name}-rx`);
  } else {
    q.rxPort = tp;
    host.bindHandler(tp, () => {
      xenvif_tx_interrupt(q);
      xenvif_rx_interrupt(q);
    }, q.name);
  }
  q.task = kthreads.run(`${q.name}-guest-rx`, 'xenvif_kthread_guest_rx', () => xenvif_kthread_guest_rx(q));
  q.dealloc_task = kthreads.run(`${q.name}-dealloc`, 'xenvif_dealloc_kthread', () => xenvif_dealloc_kthread(q));
  // Requests posted before we bound the port raised no event for us.
  xenvif_tx_interrupt(q);
}

/** Stop both threads of every queue (the dealloc one waits for inflight 0), unbind, unmap the rings. */
export const xenvif_disconnect_data = frame('xenvif_disconnect_data', function* (vif: Xenvif): Co {
  const { host, kthreads } = vif.ctx;
  vif.carrier = false;
  for (const q of vif.queues) {
    if (q.task) {
      yield* kthreads.stop(q.task);
      q.task = undefined;
    }
    if (q.dealloc_task) {
      yield* kthreads.stop(q.dealloc_task);
      q.dealloc_task = undefined;
    }
    for (const p of new Set([q.txPort, q.rxPort])) {
      if (p > 0) {
        host.bindHandler(p, undefined);
        host.evtchn.close(p);
      }
    }
    q.txPort = q.rxPort = 0;
    for (const h of [q.txHandle, q.rxHandle]) if (h >= 0) host.gnttab.unmap(h);
    q.txHandle = q.rxHandle = -1;
    q.tx = q.rx = undefined;
  }
  vif.queues = [];
});

/** xenvif_tx_interrupt → NAPI → xenvif_tx_action, run right here. */
function xenvif_tx_interrupt(q: XenvifQueue): void {
  xenvif_tx_action(q);
}

/** xenvif_rx_interrupt: the guest posted RX buffers; wake its guest-rx thread. */
function xenvif_rx_interrupt(q: XenvifQueue): void {
  q.rx_wq.wakeAll();
}
