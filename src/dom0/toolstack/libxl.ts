// libxl, the sequences that matter (dom0.md §6): domain make (one xenstore
// transaction), build post (memory/domid/store keys, then INTRODUCE), device
// add (backend + frontend + /libxl dirs in one transaction, then wait for the
// backend's InitWait for LIBXL_INIT_TIMEOUT), disks before nics, the device
// model spawn and its readiness wait, and destroy (pause, forced device
// removal that continues on error, rm /vm, /local/domain/N, /libxl/N, then the
// hypervisor's destroy). Failures print libxl's own lines (log.ts).
//
// Everything is a sim-thread coroutine: the caller (`xl` in host.ts) runs it
// as one thread, so every timeout is on the virtual clock.

import { WaitQueue, waitEvent, type Co, type Sim } from '../../sim/index.ts';
import { XenbusState } from '../../abi/xen.ts';
import type { DiskSpec, DomainConfig, VifSpec } from './cfg.ts';
import { libxlLine, type SiteName } from './log.ts';
import type { Libxenstore } from './xs.ts';

export const LIBXL_INIT_TIMEOUT = 10;
export const LIBXL_DESTROY_TIMEOUT = 10;
export const LIBXL_HOTPLUG_TIMEOUT = 40;
export const LIBXL_DEVICE_MODEL_START_TIMEOUT = 60;
export const LIBXL_STUBDOM_START_TIMEOUT = 30;
export const LIBXL_DOMID_REUSE_TIMEOUT = 60;

const S = 1_000_000_000;

/** What `xl list` needs from the hypervisor (xc_domaininfo). */
export interface DomInfo {
  domid: number;
  /** current_memkb */
  memKiB: number;
  outstandingKiB: number;
  vcpus: number;
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  shutdownReason: number;
  dying: boolean;
  cpuTimeNs: number;
}

export interface BuiltDomain {
  storeGfn: number;
  /** The guest's unbound store event channel (remote = dom0). */
  storePort: number;
  consoleGfn?: number;
  consolePort?: number;
}

/** The hypervisor and domain builder, as libxl sees them (libxc). */
export interface HvPort {
  list(): DomInfo[];
  info(domid: number): DomInfo | undefined;
  /** xc_domain_create: an empty, paused domain with exactly this domid. */
  createDomain(domid: number, cfg: DomainConfig, uuid: string): void;
  /** Load the kernel and set up the start of day; the domain stays paused. */
  buildDomain(domid: number, cfg: DomainConfig): Co<BuiltDomain>;
  unpause(domid: number): void;
  pause(domid: number): void;
  /** xc_domain_destroy: the domain may stay dying while its pages are mapped elsewhere. */
  destroy(domid: number): void;
}

/** Hotplug scripts (vif-bridge, block) and device models: what libxl spawns. */
export interface SpawnPort {
  /** Run `/etc/xen/scripts/<script> online|offline` for a backend; resolves when it exited (0 = ok). */
  hotplug(action: 'online' | 'offline', kind: 'vif' | 'vbd', bePath: string, domid: number, devid: number): Co<number>;
  /**
   * Start the device model of `domid`. `dmDomid` is 0 for a QEMU in dom0, or the
   * stub domain's id. It publishes its readiness itself (see dm-startup).
   */
  deviceModel?(domid: number, dmDomid: number, opts: { legacy: boolean; role: 'dm' | 'xenpv' }): void;
  /** Stop the device model(s) of `domid`. */
  deviceModelDestroy?(domid: number): void;
}

export interface LibxlOptions {
  /** Hard-code /local/domain/0/device-model/<domid>/state for every device model (the broken protocol). */
  legacyDmPath?: boolean;
  /** Write /local/domain/0/mtwatch/<domid> (the mtwatch RFC's lifecycle node). */
  mtwatchNode?: boolean;
  /** With a stub domain, also start the dom0 "xenpv" QEMU for the guest's PV backends (default true). */
  xenpvQemu?: boolean;
}

export class LibxlError extends Error {
  constructor(
    readonly rc: number,
    message: string,
  ) {
    super(message);
  }
}

export const ERROR = { FAIL: -3, INVAL: -6, TIMEDOUT: -9, NOTFOUND: -21, DOMAIN_NOTFOUND: -21 } as const;

export interface DeviceRef {
  kind: 'vif' | 'vbd';
  domid: number;
  devid: number;
  backend: number;
}

export function backendPath(d: DeviceRef): string {
  return `/local/domain/${d.backend}/backend/${d.kind}/${d.domid}/${d.devid}`;
}
export function frontendPath(d: DeviceRef): string {
  return `/local/domain/${d.domid}/device/${d.kind}/${d.devid}`;
}
export function libxlDevPath(d: DeviceRef): string {
  return `/libxl/${d.domid}/device/${d.kind}/${d.devid}`;
}

/** A uuid from the seeded choices (libxl_uuid_generate; deterministic here). */
export function makeUuid(sim: Sim): string {
  const hex = () => sim.choices.choose(16).toString(16);
  const part = (n: number) => Array.from({ length: n }, hex).join('');
  return `${part(8)}-${part(4)}-4${part(3)}-${(8 + sim.choices.choose(4)).toString(16)}${part(3)}-${part(12)}`;
}

export class Libxl {
  /** Log lines (stderr of xl), in order. */
  readonly log: string[] = [];
  /** domid → virtual time it was destroyed (libxl__mark_domid_recent). */
  private readonly recent = new Map<number, number>();
  private rover = 0;
  private tokens = 0;
  /** uuid of each domain this toolstack created. */
  readonly uuids = new Map<number, string>();
  /** Stub domain serving a domain (domid → stubdom domid). */
  readonly stubdoms = new Map<number, number>();

  constructor(
    readonly sim: Sim,
    readonly xs: Libxenstore,
    readonly hv: HvPort,
    readonly spawn: SpawnPort,
    readonly opts: LibxlOptions = {},
  ) {}

  private err(site: SiteName, domid: number | undefined, msg: string): void {
    this.log.push(libxlLine('error', site, domid, msg));
  }

  // ------------------------------------------------------------------ domids

  /** Next free domid after the last one, skipping live and recently destroyed ones. */
  allocDomid(): number {
    const live = new Set(this.hv.list().map((d) => d.domid));
    const now = this.sim.now;
    for (const [d, t] of this.recent) if (now - t >= LIBXL_DOMID_REUSE_TIMEOUT * S) this.recent.delete(d);
    let d = this.rover;
    for (let i = 0; i < 0x7ff0; i++) {
      d = d + 1 >= 0x7ff0 ? 1 : d + 1;
      if (!live.has(d) && !this.recent.has(d)) {
        this.rover = d;
        return d;
      }
    }
    throw new LibxlError(ERROR.FAIL, 'no free domid');
  }

  isDomidRecent(domid: number): boolean {
    const t = this.recent.get(domid);
    return t !== undefined && this.sim.now - t < LIBXL_DOMID_REUSE_TIMEOUT * S;
  }

  // ------------------------------------------------------------------ create

  /** libxl__domain_make: the domain and its xenstore skeleton, one transaction. */
  *domainMake(cfg: DomainConfig, domid = this.allocDomid()): Co<number> {
    const uuid = cfg.uuid ?? makeUuid(this.sim);
    this.hv.createDomain(domid, cfg, uuid);
    this.uuids.set(domid, uuid);
    const dom = `/local/domain/${domid}`;
    const vm = `/vm/${uuid}`;
    const lx = `/libxl/${domid}`;
    const noperm = ['n0'];
    const roperm = ['n0', `r${domid}`];
    const rwperm = [`n${domid}`];
    const xs = this.xs;
    yield* xs.transaction(function* (t) {
      yield* xs.rm(t, dom);
      yield* xs.mknod(t, dom, roperm);
      yield* xs.rm(t, vm);
      yield* xs.mknod(t, vm, roperm);
      yield* xs.mknod(t, lx, noperm);
      yield* xs.mknod(t, `${lx}/device`, noperm);
      yield* xs.write(t, `${dom}/vm`, vm);
      // libxl__domain_rename: the name node and /vm/<uuid>/name
      yield* xs.write(t, `${dom}/name`, cfg.name);
      yield* xs.mknod(t, `${dom}/cpu`, roperm);
      yield* xs.mknod(t, `${dom}/memory`, roperm);
      yield* xs.mknod(t, `${dom}/device`, cfg.type === 'hvm' ? roperm : rwperm);
      if (cfg.type === 'hvm') yield* xs.mknod(t, `${dom}/device/suspend/event-channel`, rwperm);
      yield* xs.mknod(t, `${dom}/control`, roperm);
      if (cfg.type === 'hvm') yield* xs.mknod(t, `${dom}/hvmloader`, rwperm);
      yield* xs.mknod(t, `${dom}/control/shutdown`, rwperm);
      for (const f of ['feature-poweroff', 'feature-reboot', 'feature-suspend']) yield* xs.mknod(t, `${dom}/control/${f}`, rwperm);
      if (cfg.type === 'hvm') for (const f of ['feature-s3', 'feature-s4']) yield* xs.mknod(t, `${dom}/control/${f}`, rwperm);
      yield* xs.mknod(t, `${dom}/control/sysrq`, rwperm);
      for (const d of ['data', 'drivers', 'feature', 'attr', 'error']) yield* xs.mknod(t, `${dom}/${d}`, rwperm);
      yield* xs.write(t, `${vm}/uuid`, uuid);
      yield* xs.write(t, `${vm}/name`, cfg.name);
      yield* xs.write(t, `${vm}/start_time`, (0).toFixed(2));
      yield* xs.write(t, `${dom}/control/platform-feature-multiprocessor-suspend`, '1');
      yield* xs.write(t, `${dom}/control/platform-feature-xs_reset_watches`, '1');
      yield* xs.write(t, `${lx}/type`, cfg.type);
    });
    if (this.opts.mtwatchNode) {
      yield* xs.transaction(function* (t) {
        yield* xs.mkdir(t, `/local/domain/0/mtwatch/${domid}`);
      });
    }
    return domid;
  }

  /** libxl__build_post: memory, domid, store keys; then xs_introduce_domain. */
  *buildPost(domid: number, cfg: DomainConfig, built: BuiltDomain): Co {
    const dom = `/local/domain/${domid}`;
    const xs = this.xs;
    yield* xs.transaction(function* (t) {
      yield* xs.write(t, `${dom}/memory/static-max`, String(cfg.maxmem * 1024));
      yield* xs.write(t, `${dom}/memory/target`, String(cfg.memory * 1024));
      yield* xs.write(t, `${dom}/memory/videoram`, '-1');
      yield* xs.write(t, `${dom}/domid`, String(domid));
      yield* xs.write(t, `${dom}/store/port`, String(built.storePort));
      yield* xs.write(t, `${dom}/store/ring-ref`, String(built.storeGfn));
      if (built.consolePort !== undefined) {
        yield* xs.write(t, `${dom}/console/port`, String(built.consolePort));
        yield* xs.write(t, `${dom}/console/ring-ref`, String(built.consoleGfn ?? 0));
        yield* xs.write(t, `${dom}/console/limit`, '1048576');
        yield* xs.write(t, `${dom}/console/type`, 'xenconsoled');
      }
      for (let i = 0; i < cfg.vcpus; i++) yield* xs.write(t, `${dom}/cpu/${i}/availability`, 'online');
    });
    yield* xs.introduce(domid, built.storeGfn, built.storePort);
  }

  /**
   * xl create: make, build, disks, device model, nics, unpause. On failure,
   * prints libxl's lines, destroys what was made and returns a negative rc.
   */
  *domainCreate(cfg: DomainConfig, opts: { paused?: boolean } = {}): Co<{ rc: number; domid: number }> {
    let domid = -1;
    try {
      domid = yield* this.domainMake(cfg);
      const built = yield* this.hv.buildDomain(domid, cfg);
      yield* this.buildPost(domid, cfg, built);
    } catch (e) {
      if (domid < 0) throw e;
      this.err('domcreate_rebuild_done', domid, `cannot (re-)build domain: ${(e as Error).message}`);
      yield* this.createFailed(domid);
      return { rc: ERROR.FAIL, domid };
    }
    // Disks first (domcreate_launch_dm), all in parallel, then wait for each.
    if (cfg.disks.length > 0) {
      const rc = yield* this.devicesAdd(cfg.disks.map((d) => this.diskRef(domid, d)), (t, ref, i) => this.diskKeys(t, ref, cfg.disks[i]!));
      if (rc) {
        this.err('domcreate_launch_dm', domid, 'unable to add disk devices');
        yield* this.createFailed(domid);
        return { rc, domid };
      }
    }
    if (cfg.type === 'hvm' || cfg.stubdom) {
      const rc = yield* this.spawnDeviceModel(domid, cfg);
      if (rc) {
        this.err('domcreate_devmodel_started', domid, 'device model did not start: ' + rc);
        yield* this.createFailed(domid);
        return { rc, domid };
      }
    }
    if (cfg.vifs.length > 0) {
      const rc = yield* this.devicesAdd(cfg.vifs.map((v) => this.vifRef(domid, v)), (t, ref, i) => this.vifKeys(t, ref, cfg.vifs[i]!, domid));
      if (rc) {
        this.err('domcreate_launch_dm', domid, 'unable to add nic devices');
        yield* this.createFailed(domid);
        return { rc, domid };
      }
    }
    if (!opts.paused) this.hv.unpause(domid);
    return { rc: 0, domid };
  }

  /** The domcreate_complete error path: destroy what was made (prints the destroy chain). */
  private *createFailed(domid: number): Co {
    yield* this.destroyDomid(domid);
    // The create path's own destroy of the (now gone) domain.
    const rc = yield* this.destroyDomid(domid);
    if (rc) {
      this.err('domain_destroy_callback', domid, 'Unable to destroy guest');
      this.err('domain_destroy_cb', domid, 'Destruction of domain failed');
    }
  }

  // ------------------------------------------------------------------ devices

  diskRef(domid: number, d: DiskSpec): DeviceRef {
    return { kind: 'vbd', domid, devid: d.devid, backend: d.backend };
  }

  vifRef(domid: number, v: VifSpec): DeviceRef {
    return { kind: 'vif', domid, devid: v.devid, backend: v.backend };
  }

  private *diskKeys(t: number, ref: DeviceRef, d: DiskSpec): Co<{ be: Record<string, string>; fe: Record<string, string> }> {
    const be: Record<string, string> = {
      'frontend-id': String(ref.domid),
      online: '1',
      removable: '0',
      bootable: '1',
      state: String(XenbusState.Initialising),
      dev: d.vdev,
      type: 'phy',
      mode: d.access === 'rw' ? 'w' : 'r',
      'device-type': d.devtype,
      'discard-enable': '1',
      specification: 'xen',
      params: d.target,
      script: d.script ?? '/etc/xen/scripts/block',
    };
    const fe: Record<string, string> = {
      'backend-id': String(ref.backend),
      state: String(XenbusState.Initialising),
      'virtual-device': String(ref.devid),
      'device-type': d.devtype,
      trusted: '1',
      protocol: 'x86_64-abi',
    };
    void t;
    return { be, fe };
  }

  private *vifKeys(t: number, ref: DeviceRef, v: VifSpec, domid: number): Co<{ be: Record<string, string>; fe: Record<string, string> }> {
    const mac = v.mac ?? this.randomMac(domid, v.devid);
    const be: Record<string, string> = {
      'frontend-id': String(ref.domid),
      online: '1',
      state: String(XenbusState.Initialising),
      script: v.script ?? '/etc/xen/scripts/vif-bridge',
      mac,
      bridge: v.bridge,
      handle: String(v.devid),
      type: 'vif',
      'hotplug-status': '',
    };
    if (v.ip !== undefined) be.ip = v.ip;
    if (v.rate !== undefined) be.rate = v.rate;
    if (v.mtu !== undefined) be.mtu = String(v.mtu);
    if (v.vifname !== undefined) be.vifname = v.vifname;
    const fe: Record<string, string> = {
      'backend-id': String(ref.backend),
      state: String(XenbusState.Initialising),
      handle: String(v.devid),
      mac,
      trusted: '1',
      mtu: String(v.mtu ?? 1500),
    };
    void t;
    return { be, fe };
  }

  /** libxl's 00:16:3e:xx:xx:xx, seeded. */
  private randomMac(domid: number, devid: number): string {
    const b = () => this.sim.choices.choose(256).toString(16).padStart(2, '0');
    void domid;
    void devid;
    return `00:16:3e:${b()}:${b()}:${b()}`;
  }

  /** libxl__device_generic_add: backend, frontend and /libxl copies in one transaction. */
  private *deviceGenericAdd(ref: DeviceRef, keys: { be: Record<string, string>; fe: Record<string, string> }): Co {
    const xs = this.xs;
    const be = backendPath(ref);
    const fe = frontendPath(ref);
    const lx = libxlDevPath(ref);
    const beperm = [`n${ref.backend}`, `r${ref.domid}`];
    const feperm = [`n${ref.domid}`, `r${ref.backend}`];
    yield* xs.transaction(function* (t) {
      yield* xs.rm(t, fe);
      yield* xs.rm(t, be);
      yield* xs.mknod(t, fe, feperm);
      yield* xs.mknod(t, be, beperm);
      yield* xs.write(t, `${be}/frontend`, fe);
      yield* xs.write(t, `${fe}/backend`, be);
      for (const [k, v] of Object.entries(keys.be)) yield* xs.write(t, `${be}/${k}`, v);
      for (const [k, v] of Object.entries(keys.fe)) yield* xs.write(t, `${fe}/${k}`, v);
      yield* xs.write(t, `${lx}/frontend`, fe);
      yield* xs.write(t, `${lx}/backend`, be);
      for (const [k, v] of Object.entries(keys.be)) yield* xs.write(t, `${lx}/${k}`, v);
    });
  }

  /**
   * Add devices of one kind: each in its own transaction, then wait (all at
   * once, as libxl's multidev does) for the backends' InitWait, run the
   * hotplug scripts. Returns 0 or the first rc.
   */
  private *devicesAdd(
    refs: DeviceRef[],
    keys: (t: number, ref: DeviceRef, i: number) => Co<{ be: Record<string, string>; fe: Record<string, string> }>,
  ): Co<number> {
    for (let i = 0; i < refs.length; i++) {
      const k = yield* keys(0, refs[i]!, i);
      yield* this.deviceGenericAdd(refs[i]!, k);
    }
    const results = yield* this.waitStates(refs.map((r) => `${backendPath(r)}/state`), XenbusState.InitWait, LIBXL_INIT_TIMEOUT * S);
    let first = 0;
    for (let i = 0; i < refs.length; i++) {
      const r = results[i]!;
      if (r !== 'ok') {
        this.err('device_backend_callback', refs[i]!.domid, `unable to add device with path ${backendPath(refs[i]!)}`);
        first ||= r === 'timeout' ? ERROR.TIMEDOUT : ERROR.INVAL;
        continue;
      }
      const rc = yield* this.spawn.hotplug('online', refs[i]!.kind, backendPath(refs[i]!), refs[i]!.domid, refs[i]!.devid);
      if (rc !== 0) {
        this.err('device_backend_callback', refs[i]!.domid, `unable to add device with path ${backendPath(refs[i]!)}`);
        first ||= ERROR.FAIL;
      }
    }
    return first;
  }

  /** Hot-plug one device into a running domain (xl network-attach / block-attach). */
  *deviceAdd(domid: number, dev: { vif: VifSpec } | { disk: DiskSpec }): Co<number> {
    if ('vif' in dev) {
      const ref = this.vifRef(domid, dev.vif);
      return yield* this.devicesAdd([ref], (t, r) => this.vifKeys(t, r, dev.vif, domid));
    }
    const ref = this.diskRef(domid, dev.disk);
    return yield* this.devicesAdd([ref], (t, r) => this.diskKeys(t, r, dev.disk));
  }

  /**
   * Wait for each `<path>` to read `wanted` (libxl__ev_devstate_wait), all
   * against one deadline. 'removed' when the node disappears after being seen.
   */
  *waitStates(paths: string[], wanted: number, timeoutNs: number): Co<('ok' | 'timeout' | 'removed')[]> {
    const xs = this.xs;
    const wq = new WaitQueue();
    const fired = paths.map(() => true);
    const seen = paths.map(() => false);
    const result: ('ok' | 'timeout' | 'removed' | undefined)[] = paths.map(() => undefined);
    const tokens = paths.map(() => `libxl-devstate-${++this.tokens}`);
    for (let i = 0; i < paths.length; i++) {
      yield* xs.watch(paths[i]!, tokens[i]!, () => {
        fired[i] = true;
        wq.wakeAll();
      });
    }
    const deadline = this.sim.now + timeoutNs;
    try {
      for (;;) {
        for (let i = 0; i < paths.length; i++) {
          if (result[i] !== undefined || !fired[i]) continue;
          fired[i] = false;
          const v = yield* xs.read(0, paths[i]!);
          if (v === undefined) {
            if (seen[i]) result[i] = 'removed';
          } else {
            seen[i] = true;
            if (Number.parseInt(v, 10) === wanted) result[i] = 'ok';
          }
        }
        if (result.every((r) => r !== undefined)) break;
        const left = deadline - this.sim.now;
        const woke = left > 0 && (yield* waitEvent(wq, () => fired.some((f, i) => f && result[i] === undefined), 'S', left));
        if (!woke) {
          for (let i = 0; i < paths.length; i++) result[i] ??= 'timeout';
          break;
        }
      }
    } finally {
      for (let i = 0; i < paths.length; i++) yield* xs.unwatch(paths[i]!, tokens[i]!);
    }
    return result as ('ok' | 'timeout' | 'removed')[];
  }

  /** The devices of a domain, from /libxl/<domid>/device. */
  *listDevices(domid: number): Co<DeviceRef[]> {
    const out: DeviceRef[] = [];
    for (const kind of ['vbd', 'vif'] as const) {
      const ids = (yield* this.xs.directory(0, `/libxl/${domid}/device/${kind}`)) ?? [];
      for (const id of ids) {
        const be = yield* this.xs.read(0, `/libxl/${domid}/device/${kind}/${id}/backend`);
        const m = be ? /^\/local\/domain\/(\d+)\//.exec(be) : null;
        out.push({ kind, domid, devid: Number(id), backend: m ? Number(m[1]) : 0 });
      }
    }
    return out;
  }

  /**
   * libxl__initiate_device_generic_remove for several devices, then wait for
   * Closed (LIBXL_DESTROY_TIMEOUT); forced = rm the frontend first. Each failure
   * logs "unable to remove device with path …". Cleans the xenstore dirs either
   * way (device_hotplug_done → libxl__device_destroy). Returns 0 or the first rc.
   */
  *devicesRemove(refs: DeviceRef[], force: boolean | 'auto'): Co<number> {
    const xs = this.xs;
    const waiting: DeviceRef[] = [];
    const forced = force === true;
    for (const ref of refs) {
      const be = backendPath(ref);
      const fe = frontendPath(ref);
      const gone = yield* xs.transaction(function* (t) {
        if (forced) yield* xs.rm(t, fe);
        const state = yield* xs.read(t, `${be}/state`);
        if (state === undefined) return true; // already removed
        yield* xs.write(t, `${be}/online`, '0');
        if (Number.parseInt(state, 10) !== XenbusState.Closed) yield* xs.write(t, `${be}/state`, String(XenbusState.Closing));
        return false;
      });
      if (!gone) waiting.push(ref);
    }
    const results = waiting.length ? yield* this.waitStates(waiting.map((r) => `${backendPath(r)}/state`), XenbusState.Closed, LIBXL_DESTROY_TIMEOUT * S) : [];
    let first = 0;
    if (force === 'auto') {
      // device_backend_callback: a timed-out REMOVE with force AUTO is retried forced.
      const again = waiting.filter((_, i) => results[i] === 'timeout');
      if (again.length > 0) {
        const ok = refs.filter((r) => !again.includes(r));
        for (let i = 0; i < waiting.length; i++) if (results[i] !== 'timeout') yield* this.spawn.hotplug('offline', waiting[i]!.kind, backendPath(waiting[i]!), waiting[i]!.domid, waiting[i]!.devid);
        for (const ref of ok) yield* this.deviceDestroy(ref);
        return yield* this.devicesRemove(again, true);
      }
    }
    for (let i = 0; i < waiting.length; i++) {
      const ref = waiting[i]!;
      if (results[i] === 'timeout') {
        this.err('device_backend_callback', ref.domid, `unable to remove device with path ${backendPath(ref)}`);
        first ||= ERROR.TIMEDOUT;
      } else {
        yield* this.spawn.hotplug('offline', ref.kind, backendPath(ref), ref.domid, ref.devid);
      }
    }
    for (const ref of refs) yield* this.deviceDestroy(ref);
    return first;
  }

  /** libxl__device_destroy: rm the backend, frontend and /libxl dirs. */
  private *deviceDestroy(ref: DeviceRef): Co {
    const xs = this.xs;
    yield* xs.transaction(function* (t) {
      yield* xs.rm(t, frontendPath(ref));
      yield* xs.rm(t, backendPath(ref));
      yield* xs.rm(t, libxlDevPath(ref));
    });
  }

  /** xl network-detach / block-detach: a normal remove (force AUTO: retried forced after a timeout). */
  *deviceRemove(ref: DeviceRef): Co<number> {
    return yield* this.devicesRemove([ref], 'auto');
  }

  // ------------------------------------------------------------------ device model

  /** Where libxl waits for a device model's readiness. */
  dmStatePath(domid: number, dmDomid: number): string {
    return this.opts.legacyDmPath ? `/local/domain/0/device-model/${domid}/state` : `/local/domain/${dmDomid}/device-model/${domid}/state`;
  }

  /** Spawn the device model (in dom0 or a stub domain) and wait until it says `running`. */
  *spawnDeviceModel(domid: number, cfg: DomainConfig): Co<number> {
    if (!this.spawn.deviceModel) return 0;
    let dmDomid = 0;
    const xs = this.xs;
    if (cfg.stubdom) {
      const stubCfg: DomainConfig = { ...cfg, name: `${cfg.name}-dm`, type: 'pvh', memory: 32, maxmem: 32, vcpus: 1, vifs: [], disks: [], stubdom: false };
      dmDomid = yield* this.domainMake(stubCfg);
      this.stubdoms.set(domid, dmDomid);
      const built = yield* this.hv.buildDomain(dmDomid, stubCfg);
      yield* this.buildPost(dmDomid, stubCfg, built);
      // The stub domain may write under its own home; it serves `domid` (XS_SET_TARGET in libxl).
      yield* xs.transaction(function* (t) {
        yield* xs.write(t, `/local/domain/${dmDomid}/target`, String(domid));
        yield* xs.write(t, `/local/domain/${domid}/image/device-model-domid`, String(dmDomid));
      });
      // A stub domain still has a QEMU in dom0 for the guest's PV backends (console): the "xenpv" one.
      if (this.opts.xenpvQemu ?? true) this.spawn.deviceModel(domid, 0, { legacy: !!this.opts.legacyDmPath, role: 'xenpv' });
    }
    const path = this.dmStatePath(domid, dmDomid);
    if (dmDomid !== 0 && !this.opts.legacyDmPath) {
      // The stub domain publishes under its own home: give it the node.
      yield* xs.transaction(function* (t) {
        yield* xs.mknod(t, `/local/domain/${dmDomid}/device-model/${domid}`, [`n${dmDomid}`]);
      });
    }
    this.spawn.deviceModel(domid, dmDomid, { legacy: !!this.opts.legacyDmPath, role: 'dm' });
    if (dmDomid) this.hv.unpause(dmDomid);
    const timeout = (cfg.stubdom ? LIBXL_STUBDOM_START_TIMEOUT : LIBXL_DEVICE_MODEL_START_TIMEOUT) * S;
    const [r] = yield* this.waitStateValue(path, 'running', timeout);
    if (r !== 'ok') {
      this.err('libxl__spawn_spawn', domid, `${cfg.stubdom ? 'stub domain' : 'device model'} did not start: timed out waiting for ${path}`);
      this.err('device_model_spawn_outcome', domid, `domain ${domid} device model: spawn failed (rc=${ERROR.TIMEDOUT})`);
      return ERROR.TIMEDOUT;
    }
    return 0;
  }

  /** Wait for a node to hold a string value. */
  *waitStateValue(path: string, wanted: string, timeoutNs: number): Co<['ok' | 'timeout', number]> {
    const wq = new WaitQueue();
    let fired = true;
    const token = `libxl-spawn-${++this.tokens}`;
    yield* this.xs.watch(path, token, () => {
      fired = true;
      wq.wakeAll();
    });
    const start = this.sim.now;
    const deadline = start + timeoutNs;
    try {
      for (;;) {
        if (fired) {
          fired = false;
          if ((yield* this.xs.read(0, path)) === wanted) return ['ok', this.sim.now - start];
        }
        const left = deadline - this.sim.now;
        if (left <= 0 || !(yield* waitEvent(wq, () => fired, 'S', left))) return ['timeout', this.sim.now - start];
      }
    } finally {
      yield* this.xs.unwatch(path, token);
    }
  }

  // ------------------------------------------------------------------ destroy

  /**
   * libxl__destroy_domid: pause, device model, forced device removal
   * (devices_destroy_cb logs and continues), rm the xenstore dirs, then the
   * hypervisor. Returns 0, or ERROR.DOMAIN_NOTFOUND after "Non-existant domain".
   */
  *destroyDomid(domid: number): Co<number> {
    if (!this.hv.info(domid)) {
      this.err('libxl__destroy_domid', domid, 'Non-existant domain');
      return ERROR.DOMAIN_NOTFOUND;
    }
    this.hv.pause(domid);
    const stub = this.stubdoms.get(domid);
    if (stub !== undefined) {
      this.stubdoms.delete(domid);
      yield* this.destroyDomid(stub);
    }
    this.spawn.deviceModelDestroy?.(domid);
    const xs = this.xs;
    yield* xs.transaction(function* (t) {
      yield* xs.rm(t, `/local/domain/0/device-model/${domid}`);
    });
    const refs = yield* this.listDevices(domid);
    const rc = yield* this.devicesRemove(refs, true);
    // devices_destroy_cb
    if (rc < 0) this.err('devices_destroy_cb', domid, 'libxl__devices_destroy failed');
    const vm = yield* xs.read(0, `/local/domain/${domid}/vm`);
    yield* xs.transaction(function* (t) {
      if (vm) yield* xs.rm(t, vm);
      yield* xs.rm(t, `/local/domain/${domid}`);
      yield* xs.rm(t, `/libxl/${domid}`);
      yield* xs.rm(t, `/local/domain/${domid}/hvmloader`);
    });
    if (this.opts.mtwatchNode) {
      yield* xs.transaction(function* (t) {
        yield* xs.rm(t, `/local/domain/0/mtwatch/${domid}`);
      });
    }
    this.recent.set(domid, this.sim.now);
    this.hv.destroy(domid);
    this.uuids.delete(domid);
    return 0;
  }

  /** libxl_domain_destroy (xl destroy). */
  *domainDestroy(domid: number): Co<number> {
    const rc = yield* this.destroyDomid(domid);
    if (rc) {
      this.err('domain_destroy_callback', domid, 'Unable to destroy guest');
      this.err('domain_destroy_cb', domid, 'Destruction of domain failed');
    }
    return rc;
  }

  // ------------------------------------------------------------------ names

  /** libxl_domid_to_name: the name node, or undefined (printed "(null)"). */
  *domidToName(domid: number): Co<string | undefined> {
    return yield* this.xs.read(0, `/local/domain/${domid}/name`);
  }

  /** libxl_name_to_domid: a domain whose name node matches. */
  *nameToDomid(name: string): Co<number | undefined> {
    for (const d of this.hv.list()) {
      if ((yield* this.domidToName(d.domid)) === name) return d.domid;
    }
    return undefined;
  }
}
