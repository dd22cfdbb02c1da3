// UDP (RFC 768; Linux include/uapi/linux/udp.h).
//
// Who talks: a socket bound to a port sends datagrams to another host's port;
// nothing is acknowledged, a datagram for an unbound port is dropped (Linux
// would answer ICMP port unreachable; the guest stack only counts it).
//   source u16 @0, dest u16 @2, len u16 @4 (header + data), check u16 @6.
// The checksum covers a pseudo-header (saddr, daddr, 0, protocol 17, len)
// then the datagram; 0 on the wire means "not computed" (legal over IPv4),
// so a computed 0 is sent as 0xffff. `len` must equal the IPv4 payload
// length: a shorter or longer one is 'length'.
//
// Pure: no Node built-ins (guest bundles import it).

import { IPPROTO_UDP } from './ipv4.ts';
import type { Ipv4Addr } from './addr.ts';
import { checksum } from './checksum.ts';
import type { Malformed } from './malformed.ts';

export const UDP_HLEN = 8;

export interface UdpDatagram {
  sport: number;
  dport: number;
  dataOff: number;
  dataLen: number;
}

function pseudo(src: Ipv4Addr, dst: Ipv4Addr, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + IPPROTO_UDP + len;
}

/** `len` is the IPv4 payload length; src/dst the IPv4 addresses (pseudo-header). */
export function decodeUdp(b: Uint8Array, off: number, len: number, src: Ipv4Addr, dst: Ipv4Addr): UdpDatagram | Malformed {
  if (len < UDP_HLEN) return 'truncated';
  const ulen = (b[off + 4]! << 8) | b[off + 5]!;
  if (ulen !== len) return 'length';
  const check = (b[off + 6]! << 8) | b[off + 7]!;
  if (check !== 0 && checksum(b, off, len, pseudo(src, dst, len)) !== 0) return 'checksum';
  return { sport: (b[off]! << 8) | b[off + 1]!, dport: (b[off + 2]! << 8) | b[off + 3]!, dataOff: off + UDP_HLEN, dataLen: len - UDP_HLEN };
}

/** Write the header of a datagram whose `dataLen` bytes are already at off + 8, checksum included. */
export function encodeUdp(b: Uint8Array, off: number, sport: number, dport: number, dataLen: number, src: Ipv4Addr, dst: Ipv4Addr): void {
  const len = UDP_HLEN + dataLen;
  if (len > 0xffff) throw new RangeError(`UDP datagram of ${len} bytes`);
  if (off + len > b.length) throw new RangeError('no room for the UDP datagram');
  b[off] = sport >>> 8;
  b[off + 1] = sport & 0xff;
  b[off + 2] = dport >>> 8;
  b[off + 3] = dport & 0xff;
  b[off + 4] = len >>> 8;
  b[off + 5] = len & 0xff;
  b[off + 6] = 0;
  b[off + 7] = 0;
  const c = checksum(b, off, len, pseudo(src, dst, len)) || 0xffff;
  b[off + 6] = c >>> 8;
  b[off + 7] = c & 0xff;
}
