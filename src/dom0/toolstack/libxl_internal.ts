// What every part of libxl shares (tools/libs/light/libxl_internal.h): the
// context (libxl_ctx: the xenstore handle, libxc, what it spawns, its log), the
// timeouts, the error codes, and the log-line helper. The parts are split as
// libxl splits them: libxl_create.ts, libxl_dom.ts, libxl_device.ts (+ nic,
// disk), libxl_domain.ts, libxl_dm.ts, libxl_event.ts; libxl.ts is the public
// entry (libxl.h).
import type { DomainConfig } from './cfg.ts';
import type { Co, Sim } from '../../sim/index.ts';
import { libxlLine, type SiteName } from './log.ts';
import type { XcInterface } from './xc.ts';
import type { Libxenstore } from './xs.ts';

export const LIBXL_INIT_TIMEOUT = 10;
export const LIBXL_DESTROY_TIMEOUT = 10;
export const LIBXL_HOTPLUG_TIMEOUT = 40;
export const LIBXL_DEVICE_MODEL_START_TIMEOUT = 60;
export const LIBXL_STUBDOM_START_TIMEOUT = 30;
export const LIBXL_DOMID_REUSE_TIMEOUT = 60;

/** One second of virtual time (ns): the timeouts above are in seconds. */
export const S = 1_000_000_000;

/** libxl's error codes (libxl_types.idl: libxl_error). */
export const ERROR = { FAIL: -3, INVAL: -6, TIMEDOUT: -9, NOTFOUND: -21, DOMAIN_NOTFOUND: -21 } as const;

export class LibxlError extends Error {
  constructor(
    readonly rc: number,
    message: string,
  ) {
    super(message);
  }
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

/**
 * libxl_ctx: the state the parts share. Every field is written only from the
 * one xl thread that runs a libxl call (sim threads are cooperative), except
 * `log`, which the caller drains.
 */
export interface LibxlCtx {
  readonly sim: Sim;
  readonly xs: Libxenstore;
  readonly xc: XcInterface;
  readonly spawn: SpawnPort;
  readonly opts: LibxlOptions;
  /** Log lines (stderr of xl), in order. */
  readonly log: string[];
  /** domid → virtual time it was destroyed (libxl__mark_domid_recent). */
  readonly recent: Map<number, number>;
  /** uuid of each domain this toolstack created. */
  readonly uuids: Map<number, string>;
  /** The "libxl-json" userdata: each created domain's configuration as xl gave it (libxl__set_domain_configuration). */
  readonly configs: Map<number, DomainConfig>;
  /**
   * The name this toolstack wrote for each live domain it made (domid → name,
   * and name → domid): libxl_name_to_domid and `xl list` look here instead of
   * reading every domain's name node (the per-create scan LightVM removed).
   * Only libxl writes /local/domain/N/name (dom0-only, `r<domid>` for the
   * guest); a domain it did not make (dom0) is read from the store.
   */
  readonly names: Map<number, string>;
  readonly byName: Map<string, number>;
  /** The live domains this toolstack did not make (dom0, …), as last listed (see nameToDomid). */
  readonly foreign: Set<number>;
  /** Stub domain serving a domain (domid → stubdom domid). */
  readonly stubdoms: Map<number, number>;
  /** The last domid handed out (allocate_domid's rover). */
  rover: number;
  /** Watch tokens handed out (libxl__ev_xswatch). */
  tokens: number;
}

/** LOGD(ERROR, domid, …): one of libxl's own error lines into the context's log. */
export function libxlErr(ctx: LibxlCtx, site: SiteName, domid: number | undefined, msg: string): void {
  ctx.log.push(libxlLine('error', site, domid, msg));
}
