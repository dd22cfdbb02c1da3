// xen-netback (drivers/net/xen-netback/{xenbus,interface,netback,rx}.c).
//
// Handshake (docs/architecture.md §5.3), all in a watch thread:
//   netback_probe: feature keys in one transaction, then
//     feature-split-event-channels, multi-queue-max-queues, feature-ctrl-ring;
//     backend_create_xenvif reads `handle` and creates vif<domid>.<handle>.
//   frontend_changed(Initialising) → set_backend_state(InitWait) → state 2.
//   (libxl runs vif-bridge: brctl addif, hotplug-status=connected.)
//   frontend_changed(Connected) → set_backend_state(Connected) → connect():
//     queues, mac, request-rx-copy, flags, rings per queue → xenvif_connect_data
//     (map both rings, bind the event channel(s), start <vif>-q<N>-guest-rx and
//     <vif>-q<N>-dealloc), carrier on, watch hotplug-status, and *defer*
//     writing 4 until hotplug-status reads "connected".
//
// TX (guest → dom0), xenvif_tx_action: the first XEN_NETBACK_TX_COPY_LEN
// (128) bytes are copied into the skb head; the rest of the packet is
// grant-mapped as frags (zerocopy). A packet that fits in 128 bytes is answered
// at once. A zerocopy packet counts in inflight_packets and tx_zerocopy_sent
// until its last user frees it; then xenvif_zerocopy_callback queues it for the
// dealloc thread (tx_zerocopy_success / _fail), which unmaps the grants and
// only then sends the TX responses.
//
// The stall (docs/architecture.md §5.1), as an interleaving:
//   1. guest sends a 1500-byte packet; netback maps its frag, inflight = 1;
//   2. the NIC keeps that skb in its TX ring (nic.hold);
//   3. libxl destroys the domain; the otherend watch reads state Unknown →
//      frontend_changed → set_backend_state(Closed) → backend_disconnect →
//      xenvif_disconnect_data → kthread_stop(dealloc): the dealloc thread
//      exits only when kthread_should_stop() && inflight_packets == 0, so the
//      watch thread sleeps in D in kthread_stop;
//   4. with one xenwatch thread every later event of every domain waits;
//   5. ifconfig eth0 down frees the skb → callback → inflight 0 → dealloc
//      exits → kthread_stop returns → the watch thread drains its backlog.

import { XenbusState, type XenbusStateT } from '../../abi/xen.ts';
import { BackRing } from '../../abi/ring.ts';
import {
  NETIF_RSP, NETIF_RX_ENTRY, NETIF_TX_ENTRY, NETRXF, NETTXF, XEN_NETBACK_TX_COPY_LEN, XEN_NETIF_NR_SLOTS_MIN, decodeRxRequest,
  decodeTxRequest, encodeRxResponse, encodeTxResponse, type NetifTxRequest,
} from '../../abi/netif.ts';
import { WaitQueue, call, frame, waitEvent, type Co } from '../../sim/index.ts';
import type { Bridge, NetDevice } from './bridge.ts';
import { grantCopy, type Dom0Host } from './host.ts';
import { kthread_should_stop, type Kthread, type Kthreads } from './kthread.ts';
import { Skb, type SkbFrag } from './skb.ts';
import { makeWatch, type Xenbus } from './xenbus.ts';
import {
  xenbus_dev_fatal, xenbus_dev_is_online, xenbus_switch_state, type BackendBus, type XenbusDevice, type XenbusDriver,
} from './xenbus_probe.ts';
import type { XenbusWatch } from './xenwatch.ts';

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

interface PendingTx {
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

  constructor(readonly nb: Netback, readonly domid: number, readonly handle: number) {
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

export class BackendInfo {
  vif: Xenvif | undefined;
  state: XenbusStateT = XenbusState.Initialising;
  frontend_state: XenbusStateT = XenbusState.Unknown;
  have_hotplug_status_watch = false;
  hotplug_status_watch: XenbusWatch | undefined;
  hotplug_script = '';
  constructor(readonly dev: XenbusDevice) {}
}

export class Netback implements XenbusDriver {
  readonly type = 'vif';
  readonly vifs = new Map<string, Xenvif>();
  readonly maxQueues: number;

  constructor(readonly ctx: NetbackContext) {
    this.maxQueues = ctx.maxQueues ?? 1;
  }

  private get xb(): Xenbus {
    return this.ctx.xb;
  }

  // ---------------------------------------------------------------- xenbus.c

  readonly probe = frame('netback_probe', function* (this: Netback, dev: XenbusDevice): Co {
    const be = new BackendInfo(dev);
    dev.drvdata = be;
    const xb = this.xb;
    const n = dev.nodename;
    yield* xb.transaction(function* (tx) {
      for (const k of ['feature-sg', 'feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-ipv6-csum-offload', 'feature-rx-copy']) {
        yield* xb.xs_write(`${n}/${k}`, '1', tx);
      }
      yield* xb.xs_write(`${n}/feature-rx-flip`, '0', tx);
      yield* xb.xs_write(`${n}/feature-multicast-control`, '1', tx);
      yield* xb.xs_write(`${n}/feature-dynamic-multicast-control`, '1', tx);
    });
    yield* xb.xs_write(`${n}/feature-split-event-channels`, '1');
    yield* xb.xs_write(`${n}/multi-queue-max-queues`, String(this.maxQueues));
    yield* xb.xs_write(`${n}/feature-ctrl-ring`, '1');
    be.hotplug_script = (yield* xb.xs_read_opt(`${n}/script`)) ?? '';
    yield* call('backend_create_xenvif', this.createXenvif(be));
  });

  private *createXenvif(be: BackendInfo): Co {
    const h = yield* this.xb.xs_read_opt(`${be.dev.nodename}/handle`);
    const handle = h === undefined ? 0 : Number(h);
    const vif = new Xenvif(this, be.dev.frontendDomid, handle);
    be.vif = vif;
    this.vifs.set(vif.name, vif);
    // kobject_uevent(KOBJ_ONLINE): in a libxl setup the toolstack runs the script.
  }

  readonly otherend_changed = frame('frontend_changed', function* (this: Netback, dev: XenbusDevice, fstate: XenbusStateT): Co {
    const be = dev.drvdata as BackendInfo;
    be.frontend_state = fstate;
    switch (fstate) {
      case XenbusState.Initialising:
        yield* this.set_backend_state(be, XenbusState.InitWait);
        break;
      case XenbusState.Initialised:
        break;
      case XenbusState.Connected:
        yield* this.set_backend_state(be, XenbusState.Connected);
        break;
      case XenbusState.Closing:
        yield* this.set_backend_state(be, XenbusState.Closing);
        break;
      case XenbusState.Closed:
        yield* this.set_backend_state(be, XenbusState.Closed);
        if (yield* xenbus_dev_is_online(dev)) break;
      // falls through: an offline device is unregistered
      case XenbusState.Unknown:
        yield* this.set_backend_state(be, XenbusState.Closed);
        yield* dev.bus.device_unregister(dev);
        break;
      default:
        break;
    }
  });

  /** Walk the shortest path from be.state to `state` (xenbus.c: set_backend_state). */
  readonly set_backend_state = frame('set_backend_state', function* (this: Netback, be: BackendInfo, state: XenbusStateT): Co {
    const S = XenbusState;
    let guard = 0;
    while (be.state !== state && guard++ < 10) {
      switch (be.state) {
        case S.Closed:
          if (state === S.InitWait || state === S.Connected) yield* this.backendSwitchState(be, S.InitWait);
          else yield* this.backendSwitchState(be, S.Closing);
          break;
        case S.Initialising:
          if (state === S.Closed) yield* this.backendSwitchState(be, S.Closed);
          else yield* this.backendSwitchState(be, S.InitWait);
          break;
        case S.InitWait:
          if (state === S.Connected) {
            yield* this.backend_connect(be);
            yield* this.backendSwitchState(be, S.Connected);
          } else yield* this.backendSwitchState(be, S.Closing);
          break;
        case S.Connected:
          yield* this.backend_disconnect(be);
          yield* this.backendSwitchState(be, S.Closing);
          break;
        case S.Closing:
          yield* this.backendSwitchState(be, S.Closed);
          break;
        default:
          return;
      }
      // backend_connect may have failed and moved us to Closing via xenbus_dev_fatal
      if (be.dev.removed && be.state === state) break;
    }
  });

  /** backend_switch_state(): defer the xenstore write while waiting for the hotplug script. */
  private *backendSwitchState(be: BackendInfo, state: XenbusStateT): Co {
    be.state = state;
    if (!be.have_hotplug_status_watch) yield* xenbus_switch_state(be.dev, state);
  }

  // -------------------------------------------------------------- connect()

  private readonly backend_connect = frame('connect', function* (this: Netback, be: BackendInfo): Co {
    const dev = be.dev;
    const vif = be.vif;
    if (!vif) return;
    const xb = this.xb;
    const fe = dev.otherend;
    const nq = Number((yield* xb.xs_read_opt(`${fe}/multi-queue-num-queues`)) ?? '1');
    if (!(nq >= 1) || nq > this.maxQueues) {
      yield* xenbus_dev_fatal(dev, -22, `guest requested ${nq} queues, exceeding the maximum of ${this.maxQueues}.`);
      return;
    }
    vif.mac = (yield* xb.xs_read_opt(`${dev.nodename}/mac`)) ?? '';
    if (!(yield* call('read_xenbus_vif_flags', this.readVifFlags(be, vif)))) return;
    vif.queues = [];
    for (let i = 0; i < nq; i++) {
      const q = new XenvifQueue(vif, i);
      vif.queues.push(q);
      const base = nq === 1 ? fe : `${fe}/queue-${i}`;
      try {
        yield* call('connect_data_rings', this.connectDataRings(q, base));
      } catch (e) {
        if (!(e instanceof NetbackError)) throw e;
        yield* xenbus_dev_fatal(dev, e.err, e.message);
        yield* this.xenvif_disconnect_data(vif);
        return;
      }
    }
    vif.carrier = true;
    // Wait for the hotplug script before telling the frontend we are connected.
    if (be.hotplug_status_watch) yield* this.unregisterHotplugStatusWatch(be);
    const w = makeWatch(`${dev.nodename}/hotplug-status`, () => call('hotplug_status_changed', this.hotplugStatusChanged(be)), {
      get_domid: () => dev.otherend_id,
      owner: dev.otherend_id,
    });
    try {
      yield* xb.register_xenbus_watch(w);
      be.hotplug_status_watch = w;
      be.have_hotplug_status_watch = true;
    } catch { /* no watch: switch state directly */ }
  });

  private *readVifFlags(be: BackendInfo, vif: Xenvif): Co<boolean> {
    const fe = be.dev.otherend;
    const flag = function* (this: Netback, k: string): Co<boolean> {
      const v = yield* this.xb.xs_read_opt(`${fe}/${k}`);
      return v !== undefined && Number(v) !== 0;
    }.bind(this);
    if (!(yield* flag('request-rx-copy'))) {
      yield* xenbus_dev_fatal(be.dev, -95, 'request-rx-copy must be 1 (rx-flip is not supported)');
      return false;
    }
    for (const k of ['feature-rx-notify', 'feature-sg', 'feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-no-csum-offload', 'feature-ipv6-csum-offload', 'feature-multicast-control', 'request-multicast-control']) {
      vif.features[k] = yield* flag(k);
    }
    return true;
  }

  private *connectDataRings(q: XenvifQueue, base: string): Co {
    const xb = this.xb;
    const txRef = yield* xb.xs_read_opt(`${base}/tx-ring-ref`);
    const rxRef = yield* xb.xs_read_opt(`${base}/rx-ring-ref`);
    if (txRef === undefined || rxRef === undefined) throw new NetbackError(-2, `reading ${base}/ring-ref`);
    let txEv = yield* xb.xs_read_opt(`${base}/event-channel`);
    let rxEv = txEv;
    if (txEv === undefined) {
      txEv = yield* xb.xs_read_opt(`${base}/event-channel-tx`);
      rxEv = yield* xb.xs_read_opt(`${base}/event-channel-rx`);
      if (txEv === undefined || rxEv === undefined) throw new NetbackError(-2, `reading ${base}/event-channel(-tx/rx)`);
    }
    yield* call('xenvif_connect_data', this.connectData(q, Number(txRef), Number(rxRef), Number(txEv), Number(rxEv!)));
  }

  /** xenvif_connect_data(): map rings, bind event channel(s), start the two threads. */
  private *connectData(q: XenvifQueue, txRef: number, rxRef: number, txEv: number, rxEv: number): Co {
    const { host, kthreads } = this.ctx;
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
      host.bindHandler(tp, () => this.txInterrupt(q), `${q.name}-tx`);
      host.bindHandler(rp, () => this.rxInterrupt(q), `${q.name}-rx`);
    } else {
      q.rxPort = tp;
      host.bindHandler(tp, () => {
        this.txInterrupt(q);
        this.rxInterrupt(q);
      }, q.name);
    }
    q.task = kthreads.run(`${q.name}-guest-rx`, 'xenvif_kthread_guest_rx', () => this.guestRxThread(q));
    q.dealloc_task = kthreads.run(`${q.name}-dealloc`, 'xenvif_dealloc_kthread', () => this.deallocThread(q));
    // Requests posted before we bound the port raised no event for us.
    this.txInterrupt(q);
  }

  private *hotplugStatusChanged(be: BackendInfo): Co {
    const v = yield* this.xb.xs_read_opt(`${be.dev.nodename}/hotplug-status`);
    if (v !== 'connected') return;
    // vif-bridge's `brctl addif`: a toolstack whose script cannot reach our
    // bridge (it only writes hotplug-status) still gets its vif bridged.
    if (be.vif && !this.ctx.bridge.has(be.vif)) this.ctx.bridge.addif(be.vif);
    // Complete any pending state change, then stop watching (we are on the watch thread: no mutex).
    yield* xenbus_switch_state(be.dev, be.state);
    yield* this.unregisterHotplugStatusWatch(be);
  }

  private *unregisterHotplugStatusWatch(be: BackendInfo): Co {
    const w = be.hotplug_status_watch;
    be.hotplug_status_watch = undefined;
    be.have_hotplug_status_watch = false;
    if (w) yield* this.xb.unregister_xenbus_watch(w);
  }

  // ---------------------------------------------------------- disconnect

  readonly backend_disconnect = frame('backend_disconnect', function* (this: Netback, be: BackendInfo): Co {
    if (be.vif) yield* this.xenvif_disconnect_data(be.vif);
  });

  /** Stop both threads of every queue (the dealloc one waits for inflight 0), unbind, unmap the rings. */
  readonly xenvif_disconnect_data = frame('xenvif_disconnect_data', function* (this: Netback, vif: Xenvif): Co {
    const { host, kthreads } = this.ctx;
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

  readonly remove = frame('netback_remove', function* (this: Netback, dev: XenbusDevice): Co {
    const be = dev.drvdata as BackendInfo | undefined;
    if (!be) return;
    yield* this.set_backend_state(be, XenbusState.Closed);
    yield* this.unregisterHotplugStatusWatch(be);
    if (be.vif) {
      yield* this.backend_disconnect(be);
      // xenvif_free: unregister_netdev also takes it off the bridge.
      this.ctx.bridge.delif(be.vif);
      this.vifs.delete(be.vif.name);
      be.vif = undefined;
    }
  });

  // ---------------------------------------------------------- data path

  /** xenvif_tx_interrupt → NAPI → xenvif_tx_action, run right here. */
  private txInterrupt(q: XenvifQueue): void {
    const ring = q.tx;
    if (!ring) return;
    let more = true;
    while (more) {
      while (ring.unconsumedRequests() > 0) {
        if (!this.txOne(q, ring)) return;
      }
      more = ring.finalCheckForRequests();
    }
  }

  private rxInterrupt(q: XenvifQueue): void {
    q.rx_wq.wakeAll();
  }

  /** Build one packet from the ring (xenvif_tx_build_gops + xenvif_tx_submit). False on a fatal ring error. */
  private txOne(q: XenvifQueue, ring: BackRing): boolean {
    const vif = q.vif;
    const dv = ring.sring.dv;
    if (ring.requestProdOverflow(ring.sring.req_prod)) {
      vif.stats.tx_errors++;
      this.fatalTxError(q, 'req_prod overflow');
      return false;
    }
    const slots: NetifTxRequest[] = [decodeTxRequest(dv, ring.nextRequest())];
    if (slots[0]!.flags & NETTXF.extra_info) ring.nextRequest(); // extra info (GSO) slot: nothing to map
    while (slots[slots.length - 1]!.flags & NETTXF.more_data) {
      if (ring.unconsumedRequests() === 0 || slots.length >= XEN_NETIF_NR_SLOTS_MIN) {
        vif.stats.tx_frag_overflow++;
        this.fatalTxError(q, 'too many slots');
        return false;
      }
      slots.push(decodeTxRequest(dv, ring.nextRequest()));
    }
    const first = slots[0]!;
    const fragBytes = slots.slice(1).reduce((a, s) => a + s.size, 0);
    const firstLen = first.size - fragBytes;
    const bad = firstLen < 0 || slots.some((s, i) => s.offset + (i === 0 ? firstLen : s.size) > 4096);
    if (bad) {
      this.respond(q, slots.map((s) => s.id), NETIF_RSP.ERROR);
      return true;
    }
    const domid = vif.domid;
    const host = this.ctx.host;
    const headLen = Math.min(XEN_NETBACK_TX_COPY_LEN, firstLen);
    const head = new Uint8Array(headLen);
    if (grantCopy(host, domid, first.gref, first.offset, head, 'from-grant') !== 0) {
      this.respond(q, slots.map((s) => s.id), NETIF_RSP.ERROR);
      return true;
    }
    const frags: SkbFrag[] = [];
    const handles: number[] = [];
    let ok = mapFrag(host, domid, first.gref, first.offset + headLen, firstLen - headLen, frags, handles);
    for (let i = 1; i < slots.length && ok; i++) ok = mapFrag(host, domid, slots[i]!.gref, slots[i]!.offset, slots[i]!.size, frags, handles);
    if (!ok) {
      for (const h of handles) host.gnttab.unmap(h);
      this.respond(q, slots.map((s) => s.id), NETIF_RSP.ERROR);
      return true;
    }
    vif.stats.tx_packets++;
    vif.stats.tx_bytes += first.size;
    let skb: Skb;
    if (frags.length === 0) {
      // Fully copied: the guest gets its response now (xenvif_idx_release).
      skb = new Skb(head);
      this.respond(q, slots.map((s) => s.id), NETIF_RSP.OKAY);
    } else {
      const p = q.allocPending(slots.map((s) => s.id), handles);
      skb = new Skb(head, frags, {
        refs: 1,
        copied: false,
        callback: (success) => this.zerocopyCallback(q, p.idx, success),
      });
      // xenvif_skb_zerocopy_prepare
      q.inflight_packets++;
      vif.stats.tx_zerocopy_sent++;
    }
    skb.dev = vif.name;
    // netif_receive_skb → the bridge (a vif not on a bridge drops it).
    if (this.ctx.bridge.has(vif)) this.ctx.bridge.receive(skb, vif);
    else skb.free();
    return true;
  }

  /** xenvif_zerocopy_callback + xenvif_skb_zerocopy_complete. */
  private zerocopyCallback(q: XenvifQueue, idx: number, success: boolean): void {
    q.dealloc_queue.push(idx);
    if (success) q.vif.stats.tx_zerocopy_success++;
    else q.vif.stats.tx_zerocopy_fail++;
    q.inflight_packets--;
    q.dealloc_wq.wakeAll();
  }

  private fatalTxError(q: XenvifQueue, why: string): void {
    // xenvif_fatal_tx_err: carrier off, stop processing this queue.
    q.vif.carrier = false;
    q.vif.stats.tx_errors++;
    this.ctx.bus.errors.push(`${q.vif.name}: fatal TX error: ${why}`);
    // xenvif_fatal_tx_err: netdev_err(vif->dev, "fatal error; disabling device").
    this.ctx.printk?.(`${q.vif.name}: dom${q.vif.domid}: fatal error (${why}); disabling device`);
  }

  private respond(q: XenvifQueue, ids: number[], status: number): void {
    const ring = q.tx;
    if (!ring) return;
    const dv = ring.sring.dv;
    ids.forEach((id, i) => encodeTxResponse(dv, ring.nextResponse(), { id, status: i === 0 ? status : status === NETIF_RSP.OKAY ? NETIF_RSP.OKAY : status }));
    if (ring.pushResponsesAndCheckNotify()) this.ctx.host.evtchn.send(q.txPort);
  }

  /** xenvif_dealloc_kthread: exits only when asked to stop AND nothing is in flight. */
  private *deallocThread(q: XenvifQueue): Co {
    const shouldStop = () => kthread_should_stop() && q.inflight_packets === 0;
    for (;;) {
      yield* waitEvent(q.dealloc_wq, () => q.dealloc_queue.length > 0 || shouldStop(), 'S');
      if (shouldStop()) break;
      this.deallocAction(q);
    }
    if (q.dealloc_queue.length > 0) this.deallocAction(q);
  }

  /** xenvif_tx_dealloc_action: unmap, then respond. */
  private deallocAction(q: XenvifQueue): void {
    const ids: number[] = [];
    while (q.dealloc_queue.length > 0) {
      const p = q.pending.get(q.dealloc_queue.shift()!);
      if (!p) continue;
      q.pending.delete(p.idx);
      for (const h of p.handles) this.ctx.host.gnttab.unmap(h);
      ids.push(...p.ids);
    }
    if (ids.length) this.respond(q, ids, NETIF_RSP.OKAY);
  }

  /** xenvif_kthread_guest_rx: copy queued packets into the guest's posted rx buffers. */
  private *guestRxThread(q: XenvifQueue): Co {
    for (;;) {
      yield* waitEvent(q.rx_wq, () => kthread_should_stop() || (q.rx_queue.length > 0 && (q.rx?.unconsumedRequests() ?? 0) > 0), 'S');
      if (kthread_should_stop()) break;
      this.rxAction(q);
    }
    q.rx_queue.length = 0; // xenvif_rx_queue_purge
    q.rx_queue_len = 0;
  }

  private rxAction(q: XenvifQueue): void {
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
        const st = grantCopy(this.ctx.host, q.vif.domid, req.gref, 0, chunk, 'to-grant');
        const flags = (i === 0 ? NETRXF.data_validated : 0) | (i < need - 1 ? NETRXF.more_data : 0);
        encodeRxResponse(dv, ring.nextResponse(), { id: req.id, offset: 0, flags, status: st === 0 ? chunk.length : NETIF_RSP.ERROR });
      }
      q.vif.stats.rx_packets++;
      q.vif.stats.rx_bytes += pkt.length;
      if (ring.pushResponsesAndCheckNotify()) notify = true;
    }
    if (notify) this.ctx.host.evtchn.send(q.rxPort);
  }

  /** `ethtool -S vifD.N` text. */
  ethtool(name: string): string | undefined {
    const vif = this.vifs.get(name);
    if (!vif) return undefined;
    return ['NIC statistics:', ...XENVIF_STATS.map((k) => `     ${k}: ${vif.stats[k]}`)].join('\n') + '\n';
  }
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

class NetbackError extends Error {
  constructor(readonly err: number, message: string) {
    super(message);
  }
}
