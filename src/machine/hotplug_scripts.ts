// /etc/xen/scripts for a machine booted without dom0's kernel (`kernel:
// false`): libxl runs a backend's hotplug script and waits for its
// `hotplug-status` (libxl_device.c: device_hotplug, then the backend's
// wait on hotplug-status); with the kernel, Dom0Kernel.hotplug runs them.
import type { Co } from '../sim/index.ts';
import type { Libxenstore } from '../dom0/toolstack/xs.ts';

/**
 * `vif-bridge` / `block` online|offline for the backend at `bePath`: resolves
 * with the script's exit status (0) once `hotplug-status` is written; offline
 * does nothing (the scripts' remove path has no store side here).
 */
export function* hotplugScript(xs: Libxenstore, action: 'online' | 'offline', kind: 'vif' | 'vbd', bePath: string): Co<number> {
  if (action === 'offline') return 0;
  if (kind === 'vif') {
    // vif-bridge: brctl addif, ip link up, then report.
    yield* xs.write(0, `${bePath}/hotplug-status`, 'connected');
  } else {
    // block: losetup the image and report the device to blkback.
    const params = (yield* xs.read(0, `${bePath}/params`)) ?? '';
    yield* xs.transaction(function* (t) {
      yield* xs.write(t, `${bePath}/physical-device`, '7:0');
      yield* xs.write(t, `${bePath}/physical-device-path`, params);
      yield* xs.write(t, `${bePath}/hotplug-status`, 'connected');
    });
  }
  return 0;
}
