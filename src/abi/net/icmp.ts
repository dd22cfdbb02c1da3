// ICMP for IPv4 (RFC 792; Linux include/uapi/linux/icmp.h), echo in full.
//
// Who talks: a pinger sends ECHO (8) with an identifier and a sequence
// number; the destination's stack answers ECHOREPLY (0) with the same
// identifier, sequence and data (Linux icmp_echo, Mirage Icmpv4). The pinger
// matches replies by identifier and blocks on nothing but its own timer.
//   type @0, code @1, checksum u16 @2 (over the whole ICMP message),
//   echo: id u16 @4, sequence u16 @6, data @8.
// Other types keep their 4-byte "rest of header" in `rest`.
//
// Pure: no Node built-ins (guest bundles import it).

import { checksum } from './checksum.ts';
import type { Malformed } from './malformed.ts';

export const ICMP_HLEN = 8;
export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO = 8;
export const ICMP_HOST_UNREACH = 1;

export interface IcmpMessage {
  type: number;
  code: number;
  /** Echo: identifier and sequence; other types: the same bytes as two u16. */
  id: number;
  seq: number;
  dataOff: number;
  dataLen: number;
}

/** `len` is the whole ICMP message (the IPv4 payload). */
export function decodeIcmp(b: Uint8Array, off: number, len: number): IcmpMessage | Malformed {
  if (len < ICMP_HLEN) return 'truncated';
  if (checksum(b, off, len) !== 0) return 'checksum';
  return {
    type: b[off]!,
    code: b[off + 1]!,
    id: (b[off + 4]! << 8) | b[off + 5]!,
    seq: (b[off + 6]! << 8) | b[off + 7]!,
    dataOff: off + ICMP_HLEN,
    dataLen: len - ICMP_HLEN,
  };
}

/**
 * Write the 8-byte header of a message whose `dataLen` data bytes are already
 * in place at off + 8, then its checksum.
 */
export function encodeIcmp(b: Uint8Array, off: number, type: number, code: number, id: number, seq: number, dataLen: number): void {
  if (off + ICMP_HLEN + dataLen > b.length) throw new RangeError('no room for the ICMP message');
  b[off] = type;
  b[off + 1] = code;
  b[off + 2] = 0;
  b[off + 3] = 0;
  b[off + 4] = id >>> 8;
  b[off + 5] = id & 0xff;
  b[off + 6] = seq >>> 8;
  b[off + 7] = seq & 0xff;
  const c = checksum(b, off, ICMP_HLEN + dataLen);
  b[off + 2] = c >>> 8;
  b[off + 3] = c & 0xff;
}
