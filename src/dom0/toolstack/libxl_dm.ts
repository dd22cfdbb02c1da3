// Device models (tools/libs/light/libxl_dm.c): where libxl waits for a
// device model's readiness, and the spawn: a QEMU in dom0, or a stub domain
// (made and built like any domain, serving `domid`) plus a dom0 "xenpv" QEMU
// for the guest's PV backends; then wait until it writes `running`.
import type { Co } from '../../sim/index.ts';
import type { DomainConfig } from './cfg.ts';
import { buildPost, domainMake } from './libxl_dom.ts';
import { waitStateValue } from './libxl_event.ts';
import { ERROR, LIBXL_DEVICE_MODEL_START_TIMEOUT, LIBXL_STUBDOM_START_TIMEOUT, S, libxlErr, type LibxlCtx } from './libxl_internal.ts';

/** Where libxl waits for a device model's readiness (the legacy path hard-codes dom0's home). */
export function dmStatePath(ctx: LibxlCtx, domid: number, dmDomid: number): string {
  return ctx.opts.legacyDmPath ? `/local/domain/0/device-model/${domid}/state` : `/local/domain/${dmDomid}/device-model/${domid}/state`;
}

/** Spawn the device model (in dom0 or a stub domain) and wait until it says `running`. Returns 0 or ERROR.TIMEDOUT. */
export function* spawnDeviceModel(ctx: LibxlCtx, domid: number, cfg: DomainConfig): Co<number> {
  if (!ctx.spawn.deviceModel) return 0;
  let dmDomid = 0;
  const xs = ctx.xs;
  if (cfg.stubdom) {
    const stubCfg: DomainConfig = { ...cfg, name: `${cfg.name}-dm`, type: 'pvh', memory: 32, maxmem: 32, vcpus: 1, vifs: [], disks: [], stubdom: false };
    dmDomid = yield* domainMake(ctx, stubCfg);
    ctx.stubdoms.set(domid, dmDomid);
    const built = yield* ctx.xc.xc_dom_build(dmDomid, stubCfg);
    yield* buildPost(ctx, dmDomid, stubCfg, built);
    // The stub domain may write under its own home; it serves `domid` (XS_SET_TARGET in libxl).
    yield* xs.transaction(function* (t) {
      yield* xs.write(t, `/local/domain/${dmDomid}/target`, String(domid));
      yield* xs.write(t, `/local/domain/${domid}/image/device-model-domid`, String(dmDomid));
    });
    // A stub domain still has a QEMU in dom0 for the guest's PV backends (console): the "xenpv" one.
    if (ctx.opts.xenpvQemu ?? true) ctx.spawn.deviceModel(domid, 0, { legacy: !!ctx.opts.legacyDmPath, role: 'xenpv' });
  }
  const path = dmStatePath(ctx, domid, dmDomid);
  if (dmDomid !== 0 && !ctx.opts.legacyDmPath) {
    // The stub domain publishes under its own home: give it the node.
    yield* xs.transaction(function* (t) {
      yield* xs.mknod(t, `/local/domain/${dmDomid}/device-model/${domid}`, [`n${dmDomid}`]);
    });
  }
  ctx.spawn.deviceModel(domid, dmDomid, { legacy: !!ctx.opts.legacyDmPath, role: 'dm' });
  if (dmDomid) ctx.xc.xc_domain_unpause(dmDomid);
  const timeout = (cfg.stubdom ? LIBXL_STUBDOM_START_TIMEOUT : LIBXL_DEVICE_MODEL_START_TIMEOUT) * S;
  const [r] = yield* waitStateValue(ctx, path, 'running', timeout);
  if (r !== 'ok') {
    libxlErr(ctx, 'libxl__spawn_spawn', domid, `${cfg.stubdom ? 'stub domain' : 'device model'} did not start: timed out waiting for ${path}`);
    libxlErr(ctx, 'device_model_spawn_outcome', domid, `domain ${domid} device model: spawn failed (rc=${ERROR.TIMEDOUT})`);
    return ERROR.TIMEDOUT;
  }
  return 0;
}
