// xen-netback's driver and xenbus state machine (drivers/net/xen-netback/xenbus.c).
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
// TX (guest → dom0): the head is copied, the rest grant-mapped (zerocopy); a
// mapped packet stays in inflight_packets until its last user frees it, and
// its TX responses wait for the dealloc thread's unmap (netback_tx.ts).
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
//
// This file is xenbus.c: the driver and its state machine. The vif and its
// queues are xenvif.ts; connecting them netback_interface.ts; the data path
// netback_tx.ts and netback_rx.ts.

import { XenbusState, type XenbusStateT } from '../../abi/xen.ts';
import { call, frame, type Co } from '../../sim/index.ts';
import { xenvif_connect_data, xenvif_disconnect_data } from './netback_interface.ts';
import { makeWatch, type Xenbus } from './xenbus.ts';
import {
  xenbus_dev_fatal, xenbus_dev_is_online, xenbus_switch_state, type XenbusDevice, type XenbusDriver,
} from './xenbus_probe.ts';
import type { XenbusWatch } from './xenwatch.ts';
import { NetbackError, XENVIF_STATS, Xenvif, XenvifQueue, type NetbackContext } from './xenvif.ts';

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
    const vif = new Xenvif(this.ctx, be.dev.frontendDomid, handle);
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
        yield* xenvif_disconnect_data(vif);
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
    yield* call('xenvif_connect_data', xenvif_connect_data(q, Number(txRef), Number(rxRef), Number(txEv), Number(rxEv!)));
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
    if (be.vif) yield* xenvif_disconnect_data(be.vif);
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

  /** `ethtool -S vifD.N` text. */
  ethtool(name: string): string | undefined {
    const vif = this.vifs.get(name);
    if (!vif) return undefined;
    return ['NIC statistics:', ...XENVIF_STATS.map((k) => `     ${k}: ${vif.stats[k]}`)].join('\n') + '\n';
  }
}
