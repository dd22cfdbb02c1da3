// The xenstore ring page (xen/include/public/io/xs_wire.h: struct
// xenstore_domain_interface, one 4 KiB page): a request ring the guest
// produces and the daemon consumes, a response ring the other way round, and
// the reconnection/error words. The message codec that runs over it is
// xs_wire.ts (which re-exports these names).
//
// Pure: no Node built-ins, so the guest bundle can import it.

// struct xenstore_domain_interface (io/xs_wire.h), one 4 KiB page.
export const XENSTORE_RING_SIZE = 1024;
export const XS_RING_REQ = 0;
export const XS_RING_RSP = 1024;
export const XS_RING_REQ_CONS = 2048;
export const XS_RING_REQ_PROD = 2052;
export const XS_RING_RSP_CONS = 2056;
export const XS_RING_RSP_PROD = 2060;
export const XS_RING_SERVER_FEATURES = 2064;
export const XS_RING_CONNECTION = 2068;
export const XS_RING_ERROR = 2072;
export const XENSTORE_SERVER_FEATURE_RECONNECTION = 1;
export const XENSTORE_SERVER_FEATURE_ERROR = 2;
export const XENSTORE_CONNECTED = 0;
export const XENSTORE_RECONNECT = 1;
export const XENSTORE_ERROR_NONE = 0;
export const XENSTORE_ERROR_COMM = 1;
export const XENSTORE_ERROR_RINGIDX = 2;
export const XENSTORE_ERROR_PROTO = 3;
export const MASK_XENSTORE_IDX = (idx: number): number => idx & (XENSTORE_RING_SIZE - 1);

/**
 * Ring side of `struct xenstore_domain_interface`, for whichever end writes
 * one direction and reads the other. Free-running u32 indices; an index pair
 * with `prod - cons > 1024` is corrupt (check_indexes in cxenstored).
 */
export class XsRing {
  readonly u8: Uint8Array;
  readonly dv: DataView;
  constructor(page: ArrayBuffer | Uint8Array) {
    this.u8 = page instanceof Uint8Array ? page : new Uint8Array(page);
    this.dv = new DataView(this.u8.buffer, this.u8.byteOffset, 4096);
  }
  get(off: number): number {
    return this.dv.getUint32(off, true);
  }
  set(off: number, v: number): void {
    this.dv.setUint32(off, v >>> 0, true);
  }

  /** Copies up to `data.length` bytes into the ring at `base` (XS_RING_REQ or XS_RING_RSP). Returns bytes written, or -1 if indices are corrupt. */
  write(base: number, prodOff: number, consOff: number, data: Uint8Array): number {
    const prod = this.get(prodOff);
    const cons = this.get(consOff);
    const used = (prod - cons) >>> 0;
    if (used > XENSTORE_RING_SIZE) return -1;
    let n = Math.min(XENSTORE_RING_SIZE - used, data.length);
    let p = prod;
    for (let i = 0; i < n; ) {
      const idx = MASK_XENSTORE_IDX(p);
      const chunk = Math.min(n - i, XENSTORE_RING_SIZE - idx);
      this.u8.set(data.subarray(i, i + chunk), base + idx);
      i += chunk;
      p = (p + chunk) >>> 0;
    }
    this.set(prodOff, p);
    return n;
  }

  /** Reads everything available from the ring at `base`. Returns undefined if indices are corrupt. */
  read(base: number, prodOff: number, consOff: number, max = XENSTORE_RING_SIZE): Uint8Array | undefined {
    const prod = this.get(prodOff);
    const cons = this.get(consOff);
    const avail = (prod - cons) >>> 0;
    if (avail > XENSTORE_RING_SIZE) return undefined;
    const n = Math.min(avail, max);
    const out = new Uint8Array(n);
    let c = cons;
    for (let i = 0; i < n; ) {
      const idx = MASK_XENSTORE_IDX(c);
      const chunk = Math.min(n - i, XENSTORE_RING_SIZE - idx);
      out.set(this.u8.subarray(base + idx, base + idx + chunk), i);
      i += chunk;
      c = (c + chunk) >>> 0;
    }
    this.set(consOff, c);
    return out;
  }
}
