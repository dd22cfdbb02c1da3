// Network interface ring structs (xen/include/public/io/netif.h), x86_64.
// Strict codecs: encoders reject out-of-range fields (RangeError) instead of
// truncating; decoders return fresh objects, which is the RING_COPY_REQUEST
// copy a backend must make before validating (TOCTOU).
// Pure: no Node built-ins (guest bundles import it).

import { checkInt16, checkUint, ringSize } from './ring.ts';

export const NETIF_TX_REQUEST = { size: 12, gref: 0, offset: 4, flags: 6, id: 8, sz: 10 } as const;
export const NETIF_TX_RESPONSE = { size: 4, id: 0, status: 2 } as const;
export const NETIF_RX_REQUEST = { size: 8, id: 0, gref: 4 } as const;
export const NETIF_RX_RESPONSE = { size: 8, id: 0, offset: 2, flags: 4, status: 6 } as const;
export const NETIF_EXTRA_INFO = { size: 8, type: 0, flags: 1 } as const;

/** Ring entry sizes (the request/response union) and the resulting ring sizes (256 both). */
export const NETIF_TX_ENTRY = Math.max(NETIF_TX_REQUEST.size, NETIF_TX_RESPONSE.size);
export const NETIF_RX_ENTRY = Math.max(NETIF_RX_REQUEST.size, NETIF_RX_RESPONSE.size);
export const NET_TX_RING_SIZE = ringSize(NETIF_TX_ENTRY);
export const NET_RX_RING_SIZE = ringSize(NETIF_RX_ENTRY);

export const NETTXF = { csum_blank: 1, data_validated: 2, more_data: 4, extra_info: 8 } as const;
export const NETRXF = { data_validated: 1, csum_blank: 2, more_data: 4, extra_info: 8, gso_prefix: 16 } as const;
export const XEN_NETIF_EXTRA_TYPE = { NONE: 0, GSO: 1, MCAST_ADD: 2, MCAST_DEL: 3, HASH: 4 } as const;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;
export const XEN_NETIF_GSO_TYPE = { NONE: 0, TCPV4: 1, TCPV6: 2 } as const;
export const NETIF_RSP = { DROPPED: -2, ERROR: -1, OKAY: 0, NULL: 1 } as const;
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;
export const XEN_NETIF_NR_SLOTS_MIN = 18;
/** netback copies this much of each packet's first slot (XEN_NETBACK_TX_COPY_LEN); the rest is grant-mapped. */
export const XEN_NETBACK_TX_COPY_LEN = 128;

export interface NetifTxRequest { gref: number; offset: number; flags: number; id: number; size: number }
export interface NetifTxResponse { id: number; status: number }
export interface NetifRxRequest { id: number; gref: number }
export interface NetifRxResponse { id: number; offset: number; flags: number; status: number }

export function encodeTxRequest(dv: DataView, o: number, r: NetifTxRequest): void {
  dv.setUint32(o + NETIF_TX_REQUEST.gref, checkUint('gref', r.gref, 32), true);
  dv.setUint16(o + NETIF_TX_REQUEST.offset, checkUint('offset', r.offset, 16), true);
  dv.setUint16(o + NETIF_TX_REQUEST.flags, checkUint('flags', r.flags, 16), true);
  dv.setUint16(o + NETIF_TX_REQUEST.id, checkUint('id', r.id, 16), true);
  dv.setUint16(o + NETIF_TX_REQUEST.sz, checkUint('size', r.size, 16), true);
}

export function decodeTxRequest(dv: DataView, o: number): NetifTxRequest {
  return {
    gref: dv.getUint32(o + NETIF_TX_REQUEST.gref, true),
    offset: dv.getUint16(o + NETIF_TX_REQUEST.offset, true),
    flags: dv.getUint16(o + NETIF_TX_REQUEST.flags, true),
    id: dv.getUint16(o + NETIF_TX_REQUEST.id, true),
    size: dv.getUint16(o + NETIF_TX_REQUEST.sz, true),
  };
}

export function encodeTxResponse(dv: DataView, o: number, r: NetifTxResponse): void {
  dv.setUint16(o + NETIF_TX_RESPONSE.id, checkUint('id', r.id, 16), true);
  dv.setInt16(o + NETIF_TX_RESPONSE.status, checkInt16('status', r.status), true);
}

export function decodeTxResponse(dv: DataView, o: number): NetifTxResponse {
  return { id: dv.getUint16(o + NETIF_TX_RESPONSE.id, true), status: dv.getInt16(o + NETIF_TX_RESPONSE.status, true) };
}

export function encodeRxRequest(dv: DataView, o: number, r: NetifRxRequest): void {
  dv.setUint16(o + NETIF_RX_REQUEST.id, checkUint('id', r.id, 16), true);
  dv.setUint16(o + 2, 0, true); // pad
  dv.setUint32(o + NETIF_RX_REQUEST.gref, checkUint('gref', r.gref, 32), true);
}

export function decodeRxRequest(dv: DataView, o: number): NetifRxRequest {
  return { id: dv.getUint16(o + NETIF_RX_REQUEST.id, true), gref: dv.getUint32(o + NETIF_RX_REQUEST.gref, true) };
}

export function encodeRxResponse(dv: DataView, o: number, r: NetifRxResponse): void {
  dv.setUint16(o + NETIF_RX_RESPONSE.id, checkUint('id', r.id, 16), true);
  dv.setUint16(o + NETIF_RX_RESPONSE.offset, checkUint('offset', r.offset, 16), true);
  dv.setUint16(o + NETIF_RX_RESPONSE.flags, checkUint('flags', r.flags, 16), true);
  dv.setInt16(o + NETIF_RX_RESPONSE.status, checkInt16('status', r.status), true);
}

export function decodeRxResponse(dv: DataView, o: number): NetifRxResponse {
  return {
    id: dv.getUint16(o + NETIF_RX_RESPONSE.id, true),
    offset: dv.getUint16(o + NETIF_RX_RESPONSE.offset, true),
    flags: dv.getUint16(o + NETIF_RX_RESPONSE.flags, true),
    status: dv.getInt16(o + NETIF_RX_RESPONSE.status, true),
  };
}
