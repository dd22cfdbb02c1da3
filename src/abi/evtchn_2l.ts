// The consumer side of 2-level event channels: the pending walk every kernel
// runs from its upcall (xen/include/public/xen.h, "event channel upcall";
// Linux drivers/xen/events/events_2l.c: evtchn_2l_handle_events; Mini-OS
// events.c: do_hypervisor_callback). Pure over shared_info's words, so dom0's
// demux (src/dom0/kernel/events.ts) and the tests' scripted guests walk the
// bitmaps the same way. (The guest runtime, src/guest/evtchn.ts, keeps its
// own walk: it marks each racy shared-memory access with a doors.point().)
//
// Order, and why:
//   0. the caller clears upcall_pending first (xen.h: before looking, or an
//      event set after the walk passed its word raises no new upcall);
//   1. swap the vCPU's selector with 0 (a word selected meanwhile is seen by
//      the next pass, not lost);
//   2. per selected 64-bit word, snapshot pending & ~mask, so a port that
//      re-pends itself in its handler cannot starve the others;
//   3. clear each port's pending bit *before* its handler runs: a send during
//      the handler is a new event, not wiped.
import { SHARED_INFO_U32 } from './xen.ts';

const PEND = SHARED_INFO_U32.pending;
const MASK = SHARED_INFO_U32.mask;

/**
 * One pass of the 2L walk for `vcpuId` over shared_info as 32-bit words;
 * calls `visit(port)` for each pending, unmasked port of a selected word, in
 * ascending order per word. Returns the number of ports visited.
 */
export function evtchn_2l_handle_events(u32: Uint32Array, vcpuId: number, visit: (port: number) => void): number {
  const si = vcpuId * SHARED_INFO_U32.vcpuStride + SHARED_INFO_U32.pendingSel;
  let n = 0;
  for (let half = 0; half < 2; half++) {
    let sel = u32[si + half]!;
    if (sel === 0) continue;
    u32[si + half] = 0;
    while (sel !== 0) {
      const bit = 31 - Math.clz32(sel & -sel);
      sel &= sel - 1;
      const word64 = half * 32 + bit;
      for (let k = 0; k < 2; k++) {
        const w = word64 * 2 + k;
        let bits = u32[PEND + w]! & ~u32[MASK + w]!;
        while (bits !== 0) {
          const b = bits & -bits;
          bits &= bits - 1;
          const port = w * 32 + 31 - Math.clz32(b);
          u32[PEND + w]! &= ~b;
          n++;
          visit(port);
        }
      }
    }
  }
  return n;
}
