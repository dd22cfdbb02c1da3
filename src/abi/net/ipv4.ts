// The IPv4 header (RFC 791; Linux include/uapi/linux/ip.h), without options
// on send, options skipped on receive.
//
// Who talks: any two hosts on the link; IPv4 itself never blocks or answers.
//   version:4 ihl:4 @0, tos @1, tot_len u16 @2, id u16 @4, frag_off u16 @6
//   (0x4000 DF, 0x2000 MF, low 13 bits the offset in 8-byte units), ttl @8,
//   protocol @9, check u16 @10, saddr @12, daddr @16, options to ihl*4.
// The header checksum covers the header only. tot_len bounds the packet: the
// bytes after it are the frame's padding (ip_rcv_core trims them too), bytes
// missing before it are 'length'. Fragments are decoded (they are well
// formed); what to do with them is the receiver's business.
//
// Pure: no Node built-ins (guest bundles import it).

import { readIpv4, writeIpv4, type Ipv4Addr } from './addr.ts';
import { checksum } from './checksum.ts';
import type { Malformed } from './malformed.ts';

export const IPV4_HLEN = 20;
export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFMASK = 0x1fff;
export const IPPROTO_ICMP = 1;
export const IPPROTO_UDP = 17;
/** Linux's net.ipv4.ip_default_ttl and Mirage's default. */
export const IPDEFTTL = 64;

export interface Ipv4Header {
  tos: number;
  id: number;
  /** frag_off as sent: flags (DF, MF) and offset. */
  fragOff: number;
  ttl: number;
  proto: number;
  src: Ipv4Addr;
  dst: Ipv4Addr;
}

export interface Ipv4Packet extends Ipv4Header {
  /** Where the payload starts in the buffer and how long it is (tot_len − ihl·4). */
  payloadOff: number;
  payloadLen: number;
}

/** MF set or a non-zero offset. */
export function isFragment(p: Ipv4Header): boolean {
  return (p.fragOff & (IP_MF | IP_OFFMASK)) !== 0;
}

export function decodeIpv4(b: Uint8Array, off: number, len: number): Ipv4Packet | Malformed {
  if (len < IPV4_HLEN) return 'truncated';
  const vihl = b[off]!;
  if (vihl >> 4 !== 4) return 'format';
  const hlen = (vihl & 0xf) * 4;
  if (hlen < IPV4_HLEN) return 'format';
  const totLen = (b[off + 2]! << 8) | b[off + 3]!;
  if (hlen > len || totLen < hlen || totLen > len) return 'length';
  if (checksum(b, off, hlen) !== 0) return 'checksum';
  return {
    tos: b[off + 1]!,
    id: (b[off + 4]! << 8) | b[off + 5]!,
    fragOff: (b[off + 6]! << 8) | b[off + 7]!,
    ttl: b[off + 8]!,
    proto: b[off + 9]!,
    src: readIpv4(b, off + 12),
    dst: readIpv4(b, off + 16),
    payloadOff: off + hlen,
    payloadLen: totLen - hlen,
  };
}

/** Write a 20-byte header for `payloadLen` bytes of payload, checksum included. */
export function encodeIpv4(b: Uint8Array, off: number, h: Ipv4Header, payloadLen: number): void {
  const tot = IPV4_HLEN + payloadLen;
  if (tot > 0xffff) throw new RangeError(`IPv4 packet of ${tot} bytes`);
  if (off + IPV4_HLEN > b.length) throw new RangeError('no room for an IPv4 header');
  b[off] = 0x45;
  b[off + 1] = h.tos;
  b[off + 2] = tot >>> 8;
  b[off + 3] = tot & 0xff;
  b[off + 4] = h.id >>> 8;
  b[off + 5] = h.id & 0xff;
  b[off + 6] = h.fragOff >>> 8;
  b[off + 7] = h.fragOff & 0xff;
  b[off + 8] = h.ttl;
  b[off + 9] = h.proto;
  b[off + 10] = 0;
  b[off + 11] = 0;
  writeIpv4(b, off + 12, h.src);
  writeIpv4(b, off + 16, h.dst);
  const c = checksum(b, off, IPV4_HLEN);
  b[off + 10] = c >>> 8;
  b[off + 11] = c & 0xff;
}
