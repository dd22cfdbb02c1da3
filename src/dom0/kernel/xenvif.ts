// xen-netback's vif and its queues (drivers/net/xen-netback/common.h: struct
// xenvif, struct xenvif_queue) and the vif netdev's transmit
// (interface.c: xenvif_start_xmit, rx.c: xenvif_rx_queue_tail). The driver
// (xenbus.c) is netback.ts; connecting a queue (interface.c) is
// netback_interface.ts; the TX path (netback.c) netback_tx.ts; the guest RX
// thread (rx.c) netback_rx.ts.

import type { BackRing } from '../../abi/ring.ts';
import { WaitQueue } from '../../sim/index.ts';
import type { Bridge, NetDevice } from './bridge.ts';
import type { Dom0Host } from './host.ts';
import type { Kthread, Kthreads } from './kthread.ts';
import type { Skb } from './skb.ts';
import type { Xenbus } from './xenbus.ts';
import type { BackendBus } from './xenbus_probe.ts';

/** What the netback driver is given (Netback, netback.ts); each vif keeps it for its data path. */
export interface NetbackContext {
  xb: Xenbus;
  bus: BackendBus;
  kthreads: Kthreads;
  host: Dom0Host;
  bridge: Bridge;
  /** xenvif_max_queues (module parameter; Linux defaults to the number of CPUs). */
  maxQueues?: number;
  /** dom0's kernel log (dmesg): one line per halted queue. */
  printk?: (line: string) => void;
}

/**
 * XENVIF_RX_QUEUE_BYTES (interface.c): XEN_NETIF_RX_RING_SIZE / 2 pages of
 * packets may wait for the guest's RX buffers, per queue (524288 bytes).
 */
export const XENVIF_RX_QUEUE_BYTES = (256 / 2) * 4096;

/** ethtool -S names, in xen-netback's order. */
export const XENVIF_STATS = ['rx_gso_checksum_fixup', 'tx_zerocopy_sent', 'tx_zerocopy_success', 'tx_zerocopy_fail', 'tx_frag_overflow'] as const;

export interface PendingTx {
  idx: number;
  /** Ring ids of every slot of the packet (each gets a response). */
  ids: number[];
  handles: number[];
}

export class XenvifQueue {
  tx: BackRing | undefined;
  rx: BackRing | undefined;
  txHandle = -1;
  rxHandle = -1;
  /** Local (dom0) ports; the same port twice without split event channels. */
  txPort = 0;
  rxPort = 0;
  task: Kthread | undefined;
  dealloc_task: Kthread | undefined;
  inflight_packets = 0;
  readonly dealloc_wq = new WaitQueue();
  readonly rx_wq = new WaitQueue();
  readonly pending = new Map<number, PendingTx>();
  private nextIdx = 0;
  readonly dealloc_queue: number[] = [];
  readonly rx_queue: Uint8Array[] = [];
  /** Bytes in rx_queue (skb->len summed), bounded by XENVIF_RX_QUEUE_BYTES. */
  rx_queue_len = 0;

  constructor(readonly vif: Xenvif, readonly id: number) {}

  get name(): string {
    return `${this.vif.name}-q${this.id}`;
  }

  allocPending(ids: number[], handles: number[]): PendingTx {
    const p = { idx: this.nextIdx++, ids, handles };
    this.pending.set(p.idx, p);
    return p;
  }
}

export class Xenvif implements NetDevice {
  readonly name: string;
  queues: XenvifQueue[] = [];
  carrier = false;
  mac = '';
  readonly stats = {
    rx_gso_checksum_fixup: 0, tx_zerocopy_sent: 0, tx_zerocopy_success: 0, tx_zerocopy_fail: 0, tx_frag_overflow: 0,
    tx_packets: 0, tx_bytes: 0, rx_packets: 0, rx_bytes: 0, rx_dropped: 0, tx_errors: 0, tx_dropped: 0,
  };
  /** Frontend feature flags read at connect. */
  features: Record<string, boolean> = {};

  constructor(readonly ctx: NetbackContext, readonly domid: number, readonly handle: number) {
    this.name = `vif${domid}.${handle}`;
  }

  get inflight(): number {
    return this.queues.reduce((a, q) => a + q.inflight_packets, 0);
  }

  /** xenvif_start_xmit: dom0 → guest. The bytes are copied now (skb_orphan_frags_rx), so the source completes. */
  xmit(skb: Skb): void {
    const q = this.queues[0];
    if (!this.carrier || !q || !q.task) {
      this.stats.rx_dropped++;
      skb.free();
      return;
    }
    // xenvif_rx_queue_tail (rx.c): a queue already at rx_queue_max refuses
    // the skb (dropped, tx_dropped++: TX from the vif netdev's point of view);
    // below it one more skb may go in, even past the bound.
    if (q.rx_queue_len >= XENVIF_RX_QUEUE_BYTES) {
      this.stats.tx_dropped++;
      skb.free();
      return;
    }
    const pkt = skb.data();
    q.rx_queue.push(pkt);
    q.rx_queue_len += pkt.length;
    skb.free();
    q.rx_wq.wakeAll();
  }
}

/** A connect step that failed: `err` is the -errno xenbus_dev_fatal reports. */
export class NetbackError extends Error {
  constructor(readonly err: number, message: string) {
    super(message);
  }
}
