// Shared I/O rings (xen/include/public/io/ring.h), for both ends.
//
// Page layout: req_prod u32 @0, req_event @4, rsp_prod @8, rsp_event @12,
// pvt (4 bytes) @16, pad to 64, entries @64. Each entry is a union of the
// request and response structs, so its size is the larger of the two. The
// number of entries is (4096 - 64) / entry rounded *down* to a power of 2
// (__RD32): netif 12-byte slots → 256, blkif 112-byte slots → 32.
//
// Indices are free-running u32; a slot is idx & (size - 1). Private indices
// (req_prod_pvt/rsp_cons on the front, rsp_prod_pvt/req_cons on the back) live
// in the ring objects, never in the page.
//
// Barriers: JS is single threaded, but the other end may run at a choice point
// between two of our stores (docs/architecture.md §3.3). `barrier(label)` is called
// exactly where ring.h puts wmb()/mb(): the guest passes doors.point, so the
// simulator can interleave there; the host side passes nothing.
//
// Pure: no Node built-ins (guest bundles import it).

import { PAGE_SIZE } from './xen.ts';

export const RING_HDR = { req_prod: 0, req_event: 4, rsp_prod: 8, rsp_event: 12, pvt: 16, size: 64 } as const;

/** __CONST_RING_SIZE: entries of `entrySize` bytes, rounded down to a power of two. */
export function ringSize(entrySize: number, pageSize = PAGE_SIZE): number {
  if (!Number.isInteger(entrySize) || entrySize <= 0) throw new RangeError(`bad ring entry size ${entrySize}`);
  const n = Math.floor((pageSize - RING_HDR.size) / entrySize);
  if (n < 1) throw new RangeError(`ring entry of ${entrySize} bytes does not fit`);
  return 2 ** Math.floor(Math.log2(n));
}

export type Barrier = (label: string) => void;
const noBarrier: Barrier = () => {};

/** The shared part: the four indices and the entry array of one page. */
export class SharedRing {
  readonly dv: DataView;
  readonly u8: Uint8Array;
  readonly size: number;

  constructor(readonly page: ArrayBuffer, readonly entrySize: number) {
    if (page.byteLength < PAGE_SIZE) throw new RangeError('ring page must be 4096 bytes');
    this.dv = new DataView(page);
    this.u8 = new Uint8Array(page);
    this.size = ringSize(entrySize);
  }

  get req_prod(): number { return this.dv.getUint32(RING_HDR.req_prod, true); }
  set req_prod(v: number) { this.dv.setUint32(RING_HDR.req_prod, v >>> 0, true); }
  get req_event(): number { return this.dv.getUint32(RING_HDR.req_event, true); }
  set req_event(v: number) { this.dv.setUint32(RING_HDR.req_event, v >>> 0, true); }
  get rsp_prod(): number { return this.dv.getUint32(RING_HDR.rsp_prod, true); }
  set rsp_prod(v: number) { this.dv.setUint32(RING_HDR.rsp_prod, v >>> 0, true); }
  get rsp_event(): number { return this.dv.getUint32(RING_HDR.rsp_event, true); }
  set rsp_event(v: number) { this.dv.setUint32(RING_HDR.rsp_event, v >>> 0, true); }

  /** Byte offset of the entry for index `idx`. */
  slot(idx: number): number {
    return RING_HDR.size + (idx & (this.size - 1)) * this.entrySize;
  }

  /** SHARED_RING_INIT (frontend only): producers 0, events 1, private area zeroed. */
  init(): void {
    this.u8.fill(0, 0, RING_HDR.size);
    this.req_event = 1;
    this.rsp_event = 1;
  }
}

/** (u32)(new - event) < (u32)(new - old): did the producer pass the consumer's event index? */
function needNotify(newProd: number, old: number, event: number): boolean {
  return ((newProd - event) >>> 0) < ((newProd - old) >>> 0);
}

export class FrontRing {
  req_prod_pvt = 0;
  rsp_cons = 0;

  constructor(readonly sring: SharedRing, readonly barrier: Barrier = noBarrier) {}

  /** FRONT_RING_INIT after SHARED_RING_INIT. */
  static init(page: ArrayBuffer, entrySize: number, barrier?: Barrier): FrontRing {
    const s = new SharedRing(page, entrySize);
    s.init();
    return new FrontRing(s, barrier);
  }

  get nr_ents(): number {
    return this.sring.size;
  }

  freeRequests(): number {
    return this.nr_ents - ((this.req_prod_pvt - this.rsp_cons) >>> 0);
  }

  full(): boolean {
    return this.freeRequests() === 0;
  }

  /** Offset of the next request slot; advances req_prod_pvt. */
  nextRequest(): number {
    if (this.full()) throw new RangeError('ring full');
    const o = this.sring.slot(this.req_prod_pvt);
    this.req_prod_pvt = (this.req_prod_pvt + 1) >>> 0;
    return o;
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY. */
  pushRequestsAndCheckNotify(): boolean {
    const old = this.sring.req_prod;
    const nw = this.req_prod_pvt;
    this.barrier('wmb: requests before req_prod');
    this.sring.req_prod = nw;
    this.barrier('mb: req_prod before req_event');
    return needNotify(nw, old, this.sring.req_event);
  }

  unconsumedResponses(): number {
    return (this.sring.rsp_prod - this.rsp_cons) >>> 0;
  }

  /** Offset of the next response to consume; advances rsp_cons. */
  nextResponse(): number {
    const o = this.sring.slot(this.rsp_cons);
    this.rsp_cons = (this.rsp_cons + 1) >>> 0;
    return o;
  }

  /** RING_FINAL_CHECK_FOR_RESPONSES: true if more arrived (then keep consuming). */
  finalCheckForResponses(): boolean {
    if (this.unconsumedResponses() > 0) return true;
    this.sring.rsp_event = (this.rsp_cons + 1) >>> 0;
    this.barrier('mb: rsp_event before re-check');
    return this.unconsumedResponses() > 0;
  }
}

export class BackRing {
  rsp_prod_pvt = 0;
  req_cons = 0;

  constructor(readonly sring: SharedRing, readonly barrier: Barrier = noBarrier) {}

  /** BACK_RING_ATTACH: start from the indices already in the page (a reconnect), after checking them. */
  static attach(page: ArrayBuffer, entrySize: number, barrier?: Barrier): BackRing {
    const s = new SharedRing(page, entrySize);
    const b = new BackRing(s, barrier);
    b.rsp_prod_pvt = s.rsp_prod;
    b.req_cons = s.rsp_prod;
    if (b.requestProdOverflow(s.req_prod)) throw new RangeError('ring: req_prod overflow at attach');
    return b;
  }

  get nr_ents(): number {
    return this.sring.size;
  }

  /** RING_REQUEST_PROD_OVERFLOW: a frontend claiming more than a ring of requests. */
  requestProdOverflow(prod: number): boolean {
    return ((prod - this.rsp_prod_pvt) >>> 0) > this.nr_ents;
  }

  /** RING_HAS_UNCONSUMED_REQUESTS (the min() form, robust to a lying req_prod). */
  unconsumedRequests(): number {
    const req = (this.sring.req_prod - this.req_cons) >>> 0;
    const rsp = this.nr_ents - ((this.req_cons - this.rsp_prod_pvt) >>> 0);
    return Math.min(req, rsp);
  }

  /** Offset of the next request to consume; advances req_cons. Copy before validating (RING_COPY_REQUEST). */
  nextRequest(): number {
    const o = this.sring.slot(this.req_cons);
    this.req_cons = (this.req_cons + 1) >>> 0;
    return o;
  }

  /** Offset of the next response slot; advances rsp_prod_pvt. */
  nextResponse(): number {
    const o = this.sring.slot(this.rsp_prod_pvt);
    this.rsp_prod_pvt = (this.rsp_prod_pvt + 1) >>> 0;
    return o;
  }

  /** RING_PUSH_RESPONSES_AND_CHECK_NOTIFY. */
  pushResponsesAndCheckNotify(): boolean {
    const old = this.sring.rsp_prod;
    const nw = this.rsp_prod_pvt;
    this.barrier('wmb: responses before rsp_prod');
    this.sring.rsp_prod = nw;
    this.barrier('mb: rsp_prod before rsp_event');
    return needNotify(nw, old, this.sring.rsp_event);
  }

  /** RING_FINAL_CHECK_FOR_REQUESTS. */
  finalCheckForRequests(): boolean {
    if (this.unconsumedRequests() > 0) return true;
    this.sring.req_event = (this.req_cons + 1) >>> 0;
    this.barrier('mb: req_event before re-check');
    return this.unconsumedRequests() > 0;
  }
}

// --- strict field helpers shared by the struct codecs ---

export function checkUint(name: string, v: number, bits: 8 | 16 | 32): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`${name} = ${v} is not a u${bits}`);
  return v;
}

export function checkInt16(name: string, v: number): number {
  if (!Number.isInteger(v) || v < -32768 || v > 32767) throw new RangeError(`${name} = ${v} is not an i16`);
  return v;
}
