// Network devices (tools/libs/light/libxl_nic.c): the vif's backend and
// frontend keys, and libxl's default MAC.
import { XenbusState } from '../../abi/xen.ts';
import type { Co } from '../../sim/index.ts';
import type { VifSpec } from './cfg.ts';
import { devicesAdd, type DeviceKeys, type DeviceRef } from './libxl_device.ts';
import type { LibxlCtx } from './libxl_internal.ts';

export function vifRef(domid: number, v: VifSpec): DeviceRef {
  return { kind: 'vif', domid, devid: v.devid, backend: v.backend };
}

/** libxl__device_nic_setdefault + libxl__nic_from_xenstore's keys, written by libxl__device_generic_add. */
export function vifKeys(ctx: LibxlCtx, ref: DeviceRef, v: VifSpec): DeviceKeys {
  const mac = v.mac ?? randomMac(ctx);
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
  return { be, fe };
}

/** libxl's 00:16:3e:xx:xx:xx (the Xen OUI), from the toolstack's own seeded stream (see makeUuid). */
function randomMac(ctx: LibxlCtx): string {
  const ids = ctx.sim.stream('libxl');
  const b = () => ids.choose(256).toString(16).padStart(2, '0');
  return `00:16:3e:${b()}:${b()}:${b()}`;
}

/** libxl_device_nic_add: hot-plug one vif into a running domain (xl network-attach). */
export function* deviceNicAdd(ctx: LibxlCtx, domid: number, vif: VifSpec): Co<number> {
  return yield* devicesAdd(ctx, [vifRef(domid, vif)], (r) => vifKeys(ctx, r, vif));
}
