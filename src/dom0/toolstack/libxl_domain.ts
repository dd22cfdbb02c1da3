// Domains once they exist (tools/libs/light/libxl_domain.c): destroy (pause,
// the device model, forced device removal that continues on error, rm /vm,
// /local/domain/N, /libxl/N, then the hypervisor's destroy), and names
// (libxl_utils.c: libxl_domid_to_name, libxl_name_to_domid).
import type { Co } from '../../sim/index.ts';
import { devicesRemove, listDevices } from './libxl_device.ts';
import { ERROR, libxlErr, type LibxlCtx } from './libxl_internal.ts';

/**
 * libxl__destroy_domid: pause, device model, forced device removal
 * (devices_destroy_cb logs and continues), rm the xenstore dirs, then the
 * hypervisor. Returns 0, or ERROR.DOMAIN_NOTFOUND after "Non-existant domain".
 */
export function* destroyDomid(ctx: LibxlCtx, domid: number): Co<number> {
  if (!ctx.xc.xc_domain_getinfo(domid)) {
    libxlErr(ctx, 'libxl__destroy_domid', domid, 'Non-existant domain');
    return ERROR.DOMAIN_NOTFOUND;
  }
  ctx.xc.xc_domain_pause(domid);
  const stub = ctx.stubdoms.get(domid);
  if (stub !== undefined) {
    ctx.stubdoms.delete(domid);
    yield* destroyDomid(ctx, stub);
  }
  ctx.spawn.deviceModelDestroy?.(domid);
  const xs = ctx.xs;
  yield* xs.transaction(function* (t) {
    yield* xs.rm(t, `/local/domain/0/device-model/${domid}`);
  });
  const refs = yield* listDevices(ctx, domid);
  const rc = yield* devicesRemove(ctx, refs, true);
  // devices_destroy_cb
  if (rc < 0) libxlErr(ctx, 'devices_destroy_cb', domid, 'libxl__devices_destroy failed');
  const vm = yield* xs.read(0, `/local/domain/${domid}/vm`);
  yield* xs.transaction(function* (t) {
    if (vm) yield* xs.rm(t, vm);
    yield* xs.rm(t, `/local/domain/${domid}`);
    yield* xs.rm(t, `/libxl/${domid}`);
    yield* xs.rm(t, `/local/domain/${domid}/hvmloader`);
  });
  forgetName(ctx, domid);
  if (ctx.opts.mtwatchNode) {
    yield* xs.transaction(function* (t) {
      yield* xs.rm(t, `/local/domain/0/mtwatch/${domid}`);
    });
  }
  // libxl__mark_domid_recent (delete first: `recent` stays in destroy order, see allocDomid),
  // then the child's xc_domain_destroy; domain_destroy_domid_cb
  // turns its failure (exit status = errno) into ERROR_FAIL, which xl reports.
  ctx.recent.delete(domid);
  ctx.recent.set(domid, ctx.sim.now);
  const r = ctx.xc.xc_domain_destroy(domid);
  if (r < 0) {
    libxlErr(ctx, 'domain_destroy_domid_cb', domid, `xc_domain_destroy failed: ${strerror(-r)}`);
    return ERROR.FAIL;
  }
  ctx.uuids.delete(domid);
  ctx.configs.delete(domid);
  return 0;
}

/** libxl_domain_destroy (xl destroy): destroyDomid, and domain_destroy_cb's lines on failure. */
export function* domainDestroy(ctx: LibxlCtx, domid: number): Co<number> {
  const rc = yield* destroyDomid(ctx, domid);
  if (rc) {
    libxlErr(ctx, 'domain_destroy_callback', domid, 'Unable to destroy guest');
    libxlErr(ctx, 'domain_destroy_cb', domid, 'Destruction of domain failed');
  }
  return rc;
}

/** The name node is gone (destroy removed /local/domain/N): so is the table's entry. */
function forgetName(ctx: LibxlCtx, domid: number): void {
  const name = ctx.names.get(domid);
  if (name === undefined) return;
  ctx.names.delete(domid);
  if (ctx.byName.get(name) === domid) ctx.byName.delete(name);
}

/**
 * libxl_domid_to_name: the name node, or undefined (printed "(null)"). A live
 * domain this toolstack named answers from its table (see LibxlCtx.names).
 */
export function* domidToName(ctx: LibxlCtx, domid: number): Co<string | undefined> {
  const known = ctx.names.get(domid);
  if (known !== undefined) return known;
  return yield* ctx.xs.read(0, `/local/domain/${domid}/name`);
}

/**
 * libxl_name_to_domid: a domain whose name matches. The toolstack's own table
 * first; then the name nodes of the domains it did not make (dom0, a few),
 * so a create costs no store read per running domain.
 */
export function* nameToDomid(ctx: LibxlCtx, name: string): Co<number | undefined> {
  const d = ctx.byName.get(name);
  if (d !== undefined && ctx.xc.xc_domain_getinfo(d)) return d;
  // The foreign set is listed again only when the domain count says it
  // changed (a domain made elsewhere, a zombie): not per create.
  for (const id of ctx.foreign) if (!ctx.xc.xc_domain_getinfo(id)) ctx.foreign.delete(id);
  if (ctx.xc.xc_domain_count() !== ctx.names.size + ctx.foreign.size) {
    ctx.foreign.clear();
    for (const id of ctx.xc.xc_domain_ids()) if (!ctx.names.has(id)) ctx.foreign.add(id);
  }
  for (const id of [...ctx.foreign].sort((a, b) => a - b)) {
    if ((yield* ctx.xs.read(0, `/local/domain/${id}/name`)) === name) return id;
  }
  return undefined;
}

/** glibc's strerror for the errnos a domctl can fail with here (LOGEV appends it after ": "). */
function strerror(errno: number): string {
  const texts: Record<number, string> = { 1: 'Operation not permitted', 3: 'No such process', 12: 'Cannot allocate memory', 16: 'Device or resource busy', 22: 'Invalid argument' };
  return texts[errno] ?? `Unknown error ${errno}`;
}
