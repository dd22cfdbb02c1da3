// xl create (tools/libs/light/libxl_create.c: do_domain_create and its
// domcreate_* steps): make, build, disks, device model, nics, unpause. On a
// failure it prints libxl's lines, destroys what was made and returns a
// negative rc.
import type { Co } from '../../sim/index.ts';
import type { DomainConfig } from './cfg.ts';
import { devicesAdd } from './libxl_device.ts';
import { diskKeys, diskRef } from './libxl_disk.ts';
import { spawnDeviceModel } from './libxl_dm.ts';
import { buildPost, domainMake } from './libxl_dom.ts';
import { destroyDomid } from './libxl_domain.ts';
import { ERROR, libxlErr, type LibxlCtx } from './libxl_internal.ts';
import { vifKeys, vifRef } from './libxl_nic.ts';

/** libxl_domain_create_new: the new domain's rc (0 or negative) and domid (-1 if none was made). */
export function* domainCreate(ctx: LibxlCtx, cfg: DomainConfig, opts: { paused?: boolean } = {}): Co<{ rc: number; domid: number }> {
  let domid = -1;
  try {
    domid = yield* domainMake(ctx, cfg);
    const built = yield* ctx.xc.xc_dom_build(domid, cfg);
    yield* buildPost(ctx, domid, cfg, built);
  } catch (e) {
    if (domid < 0) throw e;
    libxlErr(ctx, 'domcreate_rebuild_done', domid, `cannot (re-)build domain: ${(e as Error).message}`);
    yield* createFailed(ctx, domid);
    return { rc: ERROR.FAIL, domid };
  }
  // Disks first (domcreate_launch_dm), all in parallel, then wait for each.
  if (cfg.disks.length > 0) {
    const rc = yield* devicesAdd(ctx, cfg.disks.map((d) => diskRef(domid, d)), (ref, i) => diskKeys(ref, cfg.disks[i]!));
    if (rc) {
      libxlErr(ctx, 'domcreate_launch_dm', domid, 'unable to add disk devices');
      yield* createFailed(ctx, domid);
      return { rc, domid };
    }
  }
  if (cfg.type === 'hvm' || cfg.stubdom) {
    const rc = yield* spawnDeviceModel(ctx, domid, cfg);
    if (rc) {
      libxlErr(ctx, 'domcreate_devmodel_started', domid, 'device model did not start: ' + rc);
      yield* createFailed(ctx, domid);
      return { rc, domid };
    }
  }
  if (cfg.vifs.length > 0) {
    const rc = yield* devicesAdd(ctx, cfg.vifs.map((v) => vifRef(domid, v)), (ref, i) => vifKeys(ctx, ref, cfg.vifs[i]!));
    if (rc) {
      libxlErr(ctx, 'domcreate_launch_dm', domid, 'unable to add nic devices');
      yield* createFailed(ctx, domid);
      return { rc, domid };
    }
  }
  if (!opts.paused) ctx.xc.xc_domain_unpause(domid);
  return { rc: 0, domid };
}

/** The domcreate_complete error path: destroy what was made (prints the destroy chain). */
function* createFailed(ctx: LibxlCtx, domid: number): Co {
  yield* destroyDomid(ctx, domid);
  // The create path's own destroy of the (now gone) domain.
  const rc = yield* destroyDomid(ctx, domid);
  if (rc) {
    libxlErr(ctx, 'domain_destroy_callback', domid, 'Unable to destroy guest');
    libxlErr(ctx, 'domain_destroy_cb', domid, 'Destruction of domain failed');
  }
}
