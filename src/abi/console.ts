// The PV console ring (xen/include/public/io/console.h: struct
// xencons_interface), one page shared by a guest and dom0's console daemon.
//
// Who talks: the guest produces `out` (its console output) and consumes `in`;
// dom0's xenconsoled consumes `out` and produces `in` (keyboard input). Each
// side writes only its own producer or consumer index, after a write barrier
// over the bytes it copied, then notifies the console event channel. Nobody
// blocks on the other side: a full `out` ring means the guest keeps the rest
// for later (Solo5 bindings/xen/console.c spins; we buffer), and xenconsoled
// notifies the guest after consuming so it can write again.
//
// Indices are free-running u32 counters; a byte lives at MASK(idx) of its ring.

/** Offsets of struct xencons_interface { char in[1024]; char out[2048]; u32 in_cons, in_prod, out_cons, out_prod; }. */
export const XENCONS = {
  in: 0,
  inSize: 1024,
  out: 1024,
  outSize: 2048,
  in_cons: 3072,
  in_prod: 3076,
  out_cons: 3080,
  out_prod: 3084,
} as const;

/** Producer side of `out`: copy as much of `bytes` as fits; returns how many were taken. */
export function consoleOutWrite(page: ArrayBuffer, bytes: Uint8Array): number {
  const dv = new DataView(page);
  const u8 = new Uint8Array(page);
  const cons = dv.getUint32(XENCONS.out_cons, true);
  let prod = dv.getUint32(XENCONS.out_prod, true);
  const used = (prod - cons) >>> 0;
  // A corrupt index pair (used > size) leaves nothing free rather than overrunning.
  const free = used > XENCONS.outSize ? 0 : XENCONS.outSize - used;
  const n = Math.min(free, bytes.length);
  for (let i = 0; i < n; i++) {
    u8[XENCONS.out + (prod & (XENCONS.outSize - 1))] = bytes[i]!;
    prod = (prod + 1) >>> 0;
  }
  dv.setUint32(XENCONS.out_prod, prod, true);
  return n;
}

/**
 * Consumer side of `out` (xenconsoled: handle_ring_read): the bytes between
 * out_cons and out_prod, and out_cons moved past them. A producer index more
 * than a ring ahead is a broken ring: undefined, nothing consumed.
 */
export function consoleOutRead(page: ArrayBuffer): Uint8Array | undefined {
  const dv = new DataView(page);
  const u8 = new Uint8Array(page);
  let cons = dv.getUint32(XENCONS.out_cons, true);
  const prod = dv.getUint32(XENCONS.out_prod, true);
  const n = (prod - cons) >>> 0;
  if (n > XENCONS.outSize) return undefined;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = u8[XENCONS.out + (cons & (XENCONS.outSize - 1))]!;
    cons = (cons + 1) >>> 0;
  }
  dv.setUint32(XENCONS.out_cons, cons, true);
  return out;
}
