// Block devices (tools/libs/light/libxl_disk.c): the vbd's backend and
// frontend keys.
import { XenbusState } from '../../abi/xen.ts';
import type { Co } from '../../sim/index.ts';
import type { DiskSpec } from './cfg.ts';
import { devicesAdd, type DeviceKeys, type DeviceRef } from './libxl_device.ts';
import type { LibxlCtx } from './libxl_internal.ts';

export function diskRef(domid: number, d: DiskSpec): DeviceRef {
  return { kind: 'vbd', domid, devid: d.devid, backend: d.backend };
}

/** device_disk_add's keys, written by libxl__device_generic_add. */
export function diskKeys(ref: DeviceRef, d: DiskSpec): DeviceKeys {
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
  return { be, fe };
}

/** libxl_device_disk_add: hot-plug one disk into a running domain (xl block-attach). */
export function* deviceDiskAdd(ctx: LibxlCtx, domid: number, disk: DiskSpec): Co<number> {
  return yield* devicesAdd(ctx, [diskRef(domid, disk)], (r) => diskKeys(r, disk));
}
