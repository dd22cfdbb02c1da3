// Making a domain and finishing its build, shared by `xl create`
// (libxl_create.ts) and a stub domain's creation (libxl_dm.ts):
// allocate_domid and libxl__domain_make (tools/libs/light/libxl_create.c: the
// domain and its xenstore skeleton in one transaction), libxl__build_post
// (libxl_dom.c: memory, domid and store keys, then xs_introduce_domain), and
// the recently-destroyed domid set (libxl_domain.c: libxl__mark_domid_recent).
import type { Co, Sim } from '../../sim/index.ts';
import type { DomainConfig } from './cfg.ts';
import { ERROR, LIBXL_DOMID_REUSE_TIMEOUT, LibxlError, S, type LibxlCtx } from './libxl_internal.ts';
import type { BuiltDomain } from './xc.ts';

/** DOMID_FIRST_RESERVED (xen.h): allocate_domid wraps below it. */
const DOMID_LIMIT = 0x7ff0;

/**
 * A uuid from the toolstack's own seeded stream (libxl_uuid_generate;
 * deterministic here). Not the scheduler's stream: ids must not shift
 * scheduling answers, nor a replayed schedule feed uuid digits.
 */
export function makeUuid(sim: Sim): string {
  const ids = sim.stream('libxl');
  const hex = () => ids.choose(16).toString(16);
  const part = (n: number) => Array.from({ length: n }, hex).join('');
  return `${part(8)}-${part(4)}-4${part(3)}-${(8 + ids.choose(4)).toString(16)}${part(3)}-${part(12)}`;
}

/** allocate_domid: the next free domid after the last one, skipping live and recently destroyed ones. */
export function allocDomid(ctx: LibxlCtx): number {
  const now = ctx.sim.now;
  // `recent` is in destroy order (destroyDomid re-inserts): expired entries are
  // a prefix, so the purge stops at the first live one instead of walking all.
  for (const [d, t] of ctx.recent) {
    if (now - t < LIBXL_DOMID_REUSE_TIMEOUT * S) break;
    ctx.recent.delete(d);
  }
  // One existence check per candidate (xc_domain_getinfo_single), not a list
  // of every domain per create: from the rover, the next domid is almost
  // always free.
  let d = ctx.rover;
  for (let i = 0; i < DOMID_LIMIT; i++) {
    d = d + 1 >= DOMID_LIMIT ? 1 : d + 1;
    if (!ctx.recent.has(d) && !ctx.xc.xc_domain_getinfo(d)) {
      ctx.rover = d;
      return d;
    }
  }
  throw new LibxlError(ERROR.FAIL, 'no free domid');
}

/** libxl__is_domid_recent: destroyed less than LIBXL_DOMID_REUSE_TIMEOUT ago. */
export function isDomidRecent(ctx: LibxlCtx, domid: number): boolean {
  const t = ctx.recent.get(domid);
  return t !== undefined && ctx.sim.now - t < LIBXL_DOMID_REUSE_TIMEOUT * S;
}

/** libxl__domain_make: the domain and its xenstore skeleton, one transaction. */
export function* domainMake(ctx: LibxlCtx, cfg: DomainConfig, domid = allocDomid(ctx)): Co<number> {
  const uuid = cfg.uuid ?? makeUuid(ctx.sim);
  ctx.xc.xc_domain_create(domid, cfg, uuid);
  ctx.uuids.set(domid, uuid);
  ctx.configs.set(domid, cfg);
  const dom = `/local/domain/${domid}`;
  const vm = `/vm/${uuid}`;
  const lx = `/libxl/${domid}`;
  const noperm = ['n0'];
  const roperm = ['n0', `r${domid}`];
  const rwperm = [`n${domid}`];
  const xs = ctx.xs;
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
  ctx.names.set(domid, cfg.name);
  ctx.byName.set(cfg.name, domid);
  if (ctx.opts.mtwatchNode) {
    yield* xs.transaction(function* (t) {
      yield* xs.mkdir(t, `/local/domain/0/mtwatch/${domid}`);
    });
  }
  return domid;
}

/** libxl__build_post: memory, domid, store keys; then xs_introduce_domain. */
export function* buildPost(ctx: LibxlCtx, domid: number, cfg: DomainConfig, built: BuiltDomain): Co {
  const dom = `/local/domain/${domid}`;
  const xs = ctx.xs;
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

