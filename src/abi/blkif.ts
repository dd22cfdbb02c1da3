// Block interface ring structs (xen/include/public/io/blkif.h), x86_64 layout:
// blkif_request 112 bytes (id is 8-aligned at 8), 11 segments of 8 bytes at
// 24; blkif_response 16 bytes. 112-byte slots → 32 ring entries.
// Strict codecs as in netif.ts. Pure: no Node built-ins.

import { checkInt16, checkUint, ringSize } from './ring.ts';

export const BLKIF_REQUEST = { size: 112, operation: 0, nr_segments: 1, handle: 2, id: 8, sector_number: 16, seg: 24 } as const;
export const BLKIF_SEGMENT = { size: 8, gref: 0, first_sect: 4, last_sect: 5 } as const;
export const BLKIF_RESPONSE = { size: 16, id: 0, operation: 8, status: 10 } as const;
export const BLKIF_ENTRY = Math.max(BLKIF_REQUEST.size, BLKIF_RESPONSE.size);
export const BLK_RING_SIZE = ringSize(BLKIF_ENTRY);

export const BLKIF_OP = { READ: 0, WRITE: 1, WRITE_BARRIER: 2, FLUSH_DISKCACHE: 3, DISCARD: 5, INDIRECT: 6 } as const;
export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
export const BLKIF_RSP = { EOPNOTSUPP: -2, ERROR: -1, OKAY: 0 } as const;
export const SECTOR_SIZE = 512;
/** Sectors per 4 KiB page: first_sect/last_sect are within 0..7. */
export const SECTORS_PER_PAGE = 8;
/** `info` bits of the backend's xenstore node. */
export const VDISK = { CDROM: 1, REMOVABLE: 2, READONLY: 4 } as const;

export interface BlkifSegment { gref: number; first_sect: number; last_sect: number }
export interface BlkifRequest {
  operation: number;
  handle: number;
  /** u64, kept as bigint so ids round-trip exactly. */
  id: bigint;
  sector_number: bigint;
  seg: BlkifSegment[];
}
export interface BlkifResponse { id: bigint; operation: number; status: number }

export function encodeRequest(dv: DataView, o: number, r: BlkifRequest): void {
  if (r.seg.length > BLKIF_MAX_SEGMENTS_PER_REQUEST) throw new RangeError(`${r.seg.length} segments > 11`);
  dv.setUint8(o + BLKIF_REQUEST.operation, checkUint('operation', r.operation, 8));
  dv.setUint8(o + BLKIF_REQUEST.nr_segments, r.seg.length);
  dv.setUint16(o + BLKIF_REQUEST.handle, checkUint('handle', r.handle, 16), true);
  dv.setBigUint64(o + BLKIF_REQUEST.id, BigInt.asUintN(64, r.id), true);
  dv.setBigUint64(o + BLKIF_REQUEST.sector_number, BigInt.asUintN(64, r.sector_number), true);
  r.seg.forEach((s, i) => {
    const so = o + BLKIF_REQUEST.seg + i * BLKIF_SEGMENT.size;
    if (s.first_sect > s.last_sect || s.last_sect >= SECTORS_PER_PAGE) throw new RangeError(`bad segment sectors ${s.first_sect}..${s.last_sect}`);
    dv.setUint32(so + BLKIF_SEGMENT.gref, checkUint('gref', s.gref, 32), true);
    dv.setUint8(so + BLKIF_SEGMENT.first_sect, s.first_sect);
    dv.setUint8(so + BLKIF_SEGMENT.last_sect, s.last_sect);
  });
}

/** Decodes (copies) a request; nr_segments is clamped to what the struct can hold, the backend validates. */
export function decodeRequest(dv: DataView, o: number): BlkifRequest & { nr_segments: number } {
  const nr = dv.getUint8(o + BLKIF_REQUEST.nr_segments);
  const seg: BlkifSegment[] = [];
  for (let i = 0; i < Math.min(nr, BLKIF_MAX_SEGMENTS_PER_REQUEST); i++) {
    const so = o + BLKIF_REQUEST.seg + i * BLKIF_SEGMENT.size;
    seg.push({ gref: dv.getUint32(so, true), first_sect: dv.getUint8(so + 4), last_sect: dv.getUint8(so + 5) });
  }
  return {
    operation: dv.getUint8(o + BLKIF_REQUEST.operation),
    nr_segments: nr,
    handle: dv.getUint16(o + BLKIF_REQUEST.handle, true),
    id: dv.getBigUint64(o + BLKIF_REQUEST.id, true),
    sector_number: dv.getBigUint64(o + BLKIF_REQUEST.sector_number, true),
    seg,
  };
}

export function encodeResponse(dv: DataView, o: number, r: BlkifResponse): void {
  dv.setBigUint64(o + BLKIF_RESPONSE.id, BigInt.asUintN(64, r.id), true);
  dv.setUint8(o + BLKIF_RESPONSE.operation, checkUint('operation', r.operation, 8));
  dv.setInt16(o + BLKIF_RESPONSE.status, checkInt16('status', r.status), true);
}

export function decodeResponse(dv: DataView, o: number): BlkifResponse {
  return {
    id: dv.getBigUint64(o + BLKIF_RESPONSE.id, true),
    operation: dv.getUint8(o + BLKIF_RESPONSE.operation),
    status: dv.getInt16(o + BLKIF_RESPONSE.status, true),
  };
}
