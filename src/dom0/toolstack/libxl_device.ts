// Devices (tools/libs/light/libxl_device.c): where a device lives in
// xenstore, adding one (backend + frontend + /libxl copies in one transaction,
// then wait for the backend's InitWait and run the hotplug script), and
// removing one (online = 0 and Closing, wait for Closed, hotplug offline, rm
// the directories). The per-kind keys are in libxl_nic.ts and libxl_disk.ts.
import { XenbusState } from '../../abi/xen.ts';
import type { Co } from '../../sim/index.ts';
import { waitStates } from './libxl_event.ts';
import { ERROR, LIBXL_DESTROY_TIMEOUT, LIBXL_INIT_TIMEOUT, S, libxlErr, type LibxlCtx } from './libxl_internal.ts';

export interface DeviceRef {
  kind: 'vif' | 'vbd';
  domid: number;
  devid: number;
  backend: number;
}

/** The keys a device kind writes under its backend and frontend directories. */
export interface DeviceKeys {
  be: Record<string, string>;
  fe: Record<string, string>;
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

/** libxl__device_generic_add: backend, frontend and /libxl copies in one transaction. */
function* deviceGenericAdd(ctx: LibxlCtx, ref: DeviceRef, keys: DeviceKeys): Co {
  const xs = ctx.xs;
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
export function* devicesAdd(ctx: LibxlCtx, refs: DeviceRef[], keys: (ref: DeviceRef, i: number) => DeviceKeys): Co<number> {
  for (let i = 0; i < refs.length; i++) yield* deviceGenericAdd(ctx, refs[i]!, keys(refs[i]!, i));
  const results = yield* waitStates(ctx, refs.map((r) => `${backendPath(r)}/state`), XenbusState.InitWait, LIBXL_INIT_TIMEOUT * S);
  let first = 0;
  for (let i = 0; i < refs.length; i++) {
    const r = results[i]!;
    if (r !== 'ok') {
      libxlErr(ctx, 'device_backend_callback', refs[i]!.domid, `unable to add device with path ${backendPath(refs[i]!)}`);
      first ||= r === 'timeout' ? ERROR.TIMEDOUT : ERROR.INVAL;
      continue;
    }
    const rc = yield* ctx.spawn.hotplug('online', refs[i]!.kind, backendPath(refs[i]!), refs[i]!.domid, refs[i]!.devid);
    if (rc !== 0) {
      libxlErr(ctx, 'device_backend_callback', refs[i]!.domid, `unable to add device with path ${backendPath(refs[i]!)}`);
      first ||= ERROR.FAIL;
    }
  }
  return first;
}

/** The devices of a domain, from /libxl/<domid>/device (libxl__device_list). */
export function* listDevices(ctx: LibxlCtx, domid: number): Co<DeviceRef[]> {
  const out: DeviceRef[] = [];
  for (const kind of ['vbd', 'vif'] as const) {
    const ids = (yield* ctx.xs.directory(0, `/libxl/${domid}/device/${kind}`)) ?? [];
    for (const id of ids) {
      const be = yield* ctx.xs.read(0, `/libxl/${domid}/device/${kind}/${id}/backend`);
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
 * way (device_hotplug_done → libxl__device_destroy). With force 'auto'
 * (device_backend_callback), the devices that timed out are removed again,
 * forced, instead of failing. Returns 0 or the first rc.
 */
export function* devicesRemove(ctx: LibxlCtx, refs: DeviceRef[], force: boolean | 'auto'): Co<number> {
  const xs = ctx.xs;
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
  const results = waiting.length ? yield* waitStates(ctx, waiting.map((r) => `${backendPath(r)}/state`), XenbusState.Closed, LIBXL_DESTROY_TIMEOUT * S) : [];
  const timedOut = waiting.filter((_, i) => results[i] === 'timeout');
  // device_backend_callback: a timed-out REMOVE with force AUTO is retried forced.
  const retry = force === 'auto' && timedOut.length > 0;
  let first = 0;
  for (let i = 0; i < waiting.length; i++) {
    const ref = waiting[i]!;
    if (results[i] !== 'timeout') {
      yield* ctx.spawn.hotplug('offline', ref.kind, backendPath(ref), ref.domid, ref.devid);
    } else if (!retry) {
      libxlErr(ctx, 'device_backend_callback', ref.domid, `unable to remove device with path ${backendPath(ref)}`);
      first ||= ERROR.TIMEDOUT;
    }
  }
  for (const ref of refs) if (!retry || !timedOut.includes(ref)) yield* deviceDestroy(ctx, ref);
  if (retry) return yield* devicesRemove(ctx, timedOut, true);
  return first;
}

/**
 * libxl__device_destroy: clean the frontend, backend and /libxl dirs with
 * libxl__xs_path_cleanup, so the per-domain parents (`…/backend/vif/<domid>`)
 * go with their last device instead of staying behind after the domain.
 */
function* deviceDestroy(ctx: LibxlCtx, ref: DeviceRef): Co {
  const xs = ctx.xs;
  yield* xs.transaction(function* (t) {
    yield* xsPathCleanup(ctx, t, frontendPath(ref));
    yield* xsPathCleanup(ctx, t, backendPath(ref));
    yield* xsPathCleanup(ctx, t, libxlDevPath(ref));
  });
}

/**
 * libxl_xshelp.c: libxl__xs_path_cleanup: rm `path`, then walk up removing
 * each parent whose value is "" and that has no child left; stop at the root
 * or at the first parent that holds a value or another child.
 */
export function* xsPathCleanup(ctx: LibxlCtx, t: number, path: string): Co {
  const xs = ctx.xs;
  yield* xs.rm(t, path);
  for (let p = path.slice(0, path.lastIndexOf('/')); p.length > 0; p = p.slice(0, p.lastIndexOf('/'))) {
    const value = yield* xs.read(t, p);
    if (value === undefined || value !== '') return;
    const kids = yield* xs.directory(t, p);
    if (kids && kids.length > 0) return;
    yield* xs.rm(t, p);
  }
}
