// The backend xenbus (drivers/xen/xenbus/xenbus_probe.c, xenbus_probe_backend.c,
// xenbus_client.c): devices, drivers, probing, the otherend watch and
// xenbus_switch_state.
//
// be_watch watches /local/domain/0/backend (Linux registers the relative
// "backend"; absolute is the same node). Every event runs backend_changed →
// xenbus_dev_changed in a watch thread:
//   * node gone → unregister every device at or under it;
//   * a device root backend/<type>/<domid>/<devid> with no device yet →
//     xenbus_probe_node(), which ignores a device whose state is not
//     Initialising (a device going away after Closed);
//   * anything else (a key of an existing device) → nothing.
// Probe: talk_to_otherend (frontend-id, frontend), drv.probe, watch_otherend
// (<frontend>/state → drv.otherend_changed with the state read at run time).
//
// XSA-349: the otherend watch's will_handle is `nr_pending == 0`, so at most
// one frontend-state event per device is queued; the callback reads the
// current state when it runs, so nothing is lost, and a guest flipping its
// state in a loop cannot fill dom0's memory with events.

import { XenbusState, type XenbusStateT } from '../../abi/xen.ts';
import { call, type Co } from '../../sim/index.ts';
import { Xenbus, XenbusError, makeWatch, type XbtT } from './xenbus.ts';
import type { XenbusWatch } from './xenwatch.ts';

export const DOM0_HOME = '/local/domain/0';
export const BACKEND_ROOT = `${DOM0_HOME}/backend`;

export interface XenbusDriver {
  /** Device type: 'vif', 'vbd'. */
  readonly type: string;
  probe(dev: XenbusDevice): Co;
  otherend_changed(dev: XenbusDevice, state: XenbusStateT): Co;
  remove(dev: XenbusDevice): Co;
}

export class XenbusDevice {
  otherend = '';
  otherend_id = -1;
  /** Our state as last switched (xenbus_switch_state). */
  state: XenbusStateT = XenbusState.Initialising;
  otherend_watch: XenbusWatch | undefined;
  /** Driver private data (backend_info). */
  drvdata: unknown;
  removed = false;

  constructor(
    readonly bus: BackendBus,
    readonly nodename: string,
    readonly devicetype: string,
    readonly frontendDomid: number,
    readonly devid: string,
    readonly driver: XenbusDriver,
  ) {}

  get xb(): Xenbus {
    return this.bus.xb;
  }
}

/** Parse backend/<type>/<domid>/<devid>/... below /local/domain/0 (or relative). */
export function parseBackendPath(path: string): { type?: string; domid?: number; devid?: string; rest: string[] } | undefined {
  let rel = path;
  if (rel.startsWith(DOM0_HOME + '/')) rel = rel.slice(DOM0_HOME.length + 1);
  const parts = rel.split('/');
  if (parts[0] !== 'backend') return undefined;
  const domid = parts[2] !== undefined && /^\d+$/.test(parts[2]) ? Number(parts[2]) : undefined;
  return { type: parts[1], domid, devid: parts[3], rest: parts.slice(4) };
}

export class BackendBus {
  readonly drivers = new Map<string, XenbusDriver>();
  readonly devices = new Map<string, XenbusDevice>();
  beWatch: XenbusWatch | undefined;
  /** Devices ignored by xenbus_probe_node because their state was not Initialising. */
  ignored = 0;
  /** Probe failures, e.g. missing frontend keys (xenbus_dev_fatal messages). */
  readonly errors: string[] = [];

  constructor(readonly xb: Xenbus) {}

  addDriver(d: XenbusDriver): void {
    this.drivers.set(d.type, d);
  }

  /** xenbus_probe_backend_init(): register be_watch. Events are routed per domU by the path (mtwatch). */
  *init(): Co {
    this.beWatch = makeWatch(BACKEND_ROOT, (_w, path) => call('backend_changed', this.devChanged(path)), {
      get_domid: (_w, path) => parseBackendPath(path)?.domid,
    });
    yield* this.xb.register_xenbus_watch(this.beWatch);
  }

  /** xenbus_dev_changed(). */
  private *devChanged(path: string): Co {
    yield* call('xenbus_dev_changed', this.devChangedBody(path));
  }

  private *devChangedBody(path: string): Co {
    const p = parseBackendPath(path);
    // `if (char_count(node, '/') < 2) return;`: an event for `backend` or
    // `backend/<type>` is no device's. libxl__xs_path_cleanup removes those
    // parents with a domain's last device; unregistering every vif under
    // `backend/vif` here would run on the default thread (no domid in the
    // path) and, under mtwatch, wait for a stuck domain's executor.
    if (!p || p.type === undefined || p.domid === undefined) return;
    const exists = (yield* this.xb.xs_read_opt(path)) !== undefined;
    if (!exists) {
      yield* this.cleanupDevices(path);
      return;
    }
    if (p.devid === undefined) {
      // backend/<type>/<domid> appeared: probe what is under it.
      for (const devid of yield* this.xb.xs_directory_opt(path)) yield* this.probeIfNew(p.type, p.domid, devid);
      return;
    }
    yield* this.probeIfNew(p.type, p.domid, p.devid);
  }

  private *probeIfNew(type: string, domid: number, devid: string): Co {
    const root = `${BACKEND_ROOT}/${type}/${domid}/${devid}`;
    if (this.devices.has(root)) return;
    yield* call('xenbus_probe_node', this.probeNode(type, domid, devid, root));
  }

  /** xenbus_cleanup_devices(): device_unregister() every device at or under `path`. */
  private *cleanupDevices(path: string): Co {
    for (const [name, dev] of [...this.devices]) {
      if (name === path || name.startsWith(path + '/')) yield* this.device_unregister(dev);
    }
  }

  private *probeNode(type: string, domid: number, devid: string, root: string): Co {
    const drv = this.drivers.get(type);
    if (!drv) return;
    const state = yield* xenbus_read_driver_state(this.xb, root);
    if (state !== XenbusState.Initialising) {
      this.ignored++;
      return;
    }
    const dev = new XenbusDevice(this, root, type, domid, devid, drv);
    this.devices.set(root, dev);
    try {
      yield* call('xenbus_dev_probe', this.devProbe(dev));
    } catch (e) {
      if (!(e instanceof XenbusError)) throw e;
      this.errors.push(`${root}: probe failed: ${e.message}`);
      this.devices.delete(root);
    }
  }

  private *devProbe(dev: XenbusDevice): Co {
    // talk_to_otherend → xenbus_read_otherend_details("frontend-id", "frontend")
    const id = yield* this.xb.xs_read(`${dev.nodename}/frontend-id`);
    const fe = yield* this.xb.xs_read(`${dev.nodename}/frontend`);
    dev.otherend_id = Number(id);
    dev.otherend = fe;
    yield* dev.driver.probe(dev);
    yield* this.watchOtherend(dev);
  }

  /** watch_otherend(): <frontend>/state, owned by the frontend's domain, ≤ 1 queued event (XSA-349). */
  private *watchOtherend(dev: XenbusDevice): Co {
    const w = makeWatch(`${dev.otherend}/state`, (_w, path) => this.otherendChanged(dev, path), {
      will_handle: (x) => x.nr_pending === 0,
      get_domid: () => dev.otherend_id,
      owner: dev.otherend_id,
    });
    dev.otherend_watch = w;
    yield* this.xb.register_xenbus_watch(w);
  }

  /**
   * xenbus_otherend_changed(). No frame of its own: in the real stack it does
   * not appear either (the driver's frontend_changed sits on xenwatch_thread).
   */
  private *otherendChanged(dev: XenbusDevice, path: string): Co {
    if (dev.removed || !path.startsWith(dev.otherend)) return;
    const state = yield* xenbus_read_driver_state(this.xb, dev.otherend);
    yield* dev.driver.otherend_changed(dev, state);
  }

  /** device_unregister() → xenbus_dev_remove(): drop the otherend watch, drv.remove, switch to Closed. */
  *device_unregister(dev: XenbusDevice): Co {
    if (dev.removed) return;
    dev.removed = true;
    yield* call('device_unregister', this.devRemove(dev));
  }

  private *devRemove(dev: XenbusDevice): Co {
    if (dev.otherend_watch) {
      const w = dev.otherend_watch;
      dev.otherend_watch = undefined;
      yield* this.xb.unregister_xenbus_watch(w);
    }
    yield* call('xenbus_dev_remove', dev.driver.remove(dev));
    yield* xenbus_switch_state(dev, XenbusState.Closed);
    this.devices.delete(dev.nodename);
  }
}

/** xenbus_read_driver_state(): Unknown (0) when the node cannot be read. */
export function* xenbus_read_driver_state(xb: Xenbus, node: string): Co<XenbusStateT> {
  const v = yield* xb.xs_read_opt(`${node}/state`);
  const n = v === undefined ? NaN : Number(v);
  return (Number.isInteger(n) && n >= 0 && n <= 8 ? n : XenbusState.Unknown) as XenbusStateT;
}

/**
 * xenbus_switch_state(): in a transaction, write `state` only if the node
 * still has one, so a device whose directory the toolstack removed is not
 * brought back to life by a late switch.
 */
export function* xenbus_switch_state(dev: XenbusDevice, state: XenbusStateT): Co {
  if (state === dev.state) return;
  yield* call('xenbus_switch_state', switchBody(dev, state));
}

function* switchBody(dev: XenbusDevice, state: XenbusStateT): Co {
  const xb = dev.xb;
  try {
    yield* xb.transaction(function* (tx: XbtT) {
      const cur = yield* xb.xs_read_opt(`${dev.nodename}/state`, tx);
      if (cur === undefined) return;
      yield* xb.xs_write(`${dev.nodename}/state`, String(state), tx);
    });
  } catch (e) {
    if (!(e instanceof XenbusError)) throw e;
    dev.bus.errors.push(`${dev.nodename}: failed to write state ${state}: ${e.xsError}`);
    return;
  }
  dev.state = state;
}

/** xenbus_dev_is_online(): the toolstack's `online` key. */
export function* xenbus_dev_is_online(dev: XenbusDevice): Co<boolean> {
  const v = yield* dev.xb.xs_read_opt(`${dev.nodename}/online`);
  return v !== undefined && Number(v) !== 0;
}

/** xenbus_dev_fatal(): log and write <node>/error like Linux does under error/<node>. */
export function* xenbus_dev_fatal(dev: XenbusDevice, err: number, msg: string): Co {
  dev.bus.errors.push(`${dev.nodename}: ${err} ${msg}`);
  try {
    yield* dev.xb.xs_write(`${DOM0_HOME}/error/${dev.nodename.slice(DOM0_HOME.length + 1)}/error`, `${err} ${msg}`);
  } catch { /* best effort, as in Linux */ }
  yield* xenbus_switch_state(dev, XenbusState.Closing);
}
