// libxl's public entry (tools/libs/light/libxl.h), the sequences that matter:
// domain create (libxl_create.ts: make, build post, disks before nics, the
// device model and its readiness wait), devices (libxl_device.ts with
// libxl_nic.ts / libxl_disk.ts: add in one transaction then wait for the
// backend's InitWait for LIBXL_INIT_TIMEOUT; remove), device models
// (libxl_dm.ts), and destroy (libxl_domain.ts: pause, forced device removal
// that continues on error, rm /vm, /local/domain/N, /libxl/N, then the
// hypervisor's destroy). The hypervisor is reached through libxc (xc.ts).
// Failures print libxl's own lines (log.ts).
//
// Everything is a sim-thread coroutine: the caller (`xl`, src/dom0/toolstack/xl.ts)
// runs it as one thread, so every timeout is on the virtual clock.
import type { Co, Sim } from '../../sim/index.ts';
import type { DiskSpec, DomainConfig, VifSpec } from './cfg.ts';
import { domainCreate } from './libxl_create.ts';
import { devicesRemove, listDevices, type DeviceRef } from './libxl_device.ts';
import { deviceDiskAdd } from './libxl_disk.ts';
import { dmStatePath } from './libxl_dm.ts';
import { isDomidRecent } from './libxl_dom.ts';
import { domainDestroy, domidToName, nameToDomid } from './libxl_domain.ts';
import type { LibxlCtx, LibxlOptions, SpawnPort } from './libxl_internal.ts';
import { deviceNicAdd } from './libxl_nic.ts';
import type { XcInterface } from './xc.ts';
import type { Libxenstore } from './xs.ts';

/** The libxl context and its API (one per toolstack). */
export class Libxl implements LibxlCtx {
  readonly log: string[] = [];
  readonly recent = new Map<number, number>();
  readonly uuids = new Map<number, string>();
  readonly configs = new Map<number, DomainConfig>();
  readonly names = new Map<number, string>();
  readonly byName = new Map<string, number>();
  readonly foreign = new Set<number>();
  readonly stubdoms = new Map<number, number>();
  rover = 0;
  tokens = 0;

  constructor(
    readonly sim: Sim,
    readonly xs: Libxenstore,
    readonly xc: XcInterface,
    readonly spawn: SpawnPort,
    readonly opts: LibxlOptions = {},
  ) {}

  /** libxl_domain_create_new (xl create). */
  domainCreate(cfg: DomainConfig, opts: { paused?: boolean } = {}): Co<{ rc: number; domid: number }> {
    return domainCreate(this, cfg, opts);
  }

  /** libxl_domain_destroy (xl destroy). */
  domainDestroy(domid: number): Co<number> {
    return domainDestroy(this, domid);
  }

  /** libxl_device_nic_add / libxl_device_disk_add (xl network-attach / block-attach). */
  deviceAdd(domid: number, dev: { vif: VifSpec } | { disk: DiskSpec }): Co<number> {
    return 'vif' in dev ? deviceNicAdd(this, domid, dev.vif) : deviceDiskAdd(this, domid, dev.disk);
  }

  /** libxl_device_nic_remove / _disk_remove (xl network-detach / block-detach): force AUTO, retried forced after a timeout. */
  deviceRemove(ref: DeviceRef): Co<number> {
    return devicesRemove(this, [ref], 'auto');
  }

  /** libxl_device_nic_list / _disk_list, both kinds. */
  listDevices(domid: number): Co<DeviceRef[]> {
    return listDevices(this, domid);
  }

  /** libxl_domid_to_name. */
  domidToName(domid: number): Co<string | undefined> {
    return domidToName(this, domid);
  }

  /** libxl_name_to_domid. */
  nameToDomid(name: string): Co<number | undefined> {
    return nameToDomid(this, name);
  }

  /** Where libxl waits for the device model of `domid` run by `dmDomid`. */
  dmStatePath(domid: number, dmDomid: number): string {
    return dmStatePath(this, domid, dmDomid);
  }

  /** libxl__is_domid_recent. */
  isDomidRecent(domid: number): boolean {
    return isDomidRecent(this, domid);
  }
}

// The types and paths libxl's callers use (libxl.h).
export type { LibxlOptions, SpawnPort } from './libxl_internal.ts';
export { backendPath, frontendPath, type DeviceRef } from './libxl_device.ts';
