// ARP for IPv4 over Ethernet (RFC 826; Linux include/uapi/linux/if_arp.h).
//
// Who talks: a host that wants to send to an IPv4 address on its link
// broadcasts a request (tha = 0) and queues the packet until a reply comes
// back, unicast, from the owner of tpa. Receivers of a request for their own
// address learn the sender and answer; nobody else answers. Gratuitous ARP
// (spa = tpa) refreshes existing entries only.
//
//   htype u16 @0 = 1, ptype u16 @2 = 0x0800, hlen u8 @4 = 6, plen u8 @5 = 4,
//   oper u16 @6 (1 request, 2 reply), sha @8, spa @14, tha @18, tpa @24: 28 bytes.
// Anything else in the first six bytes is another hardware or protocol
// ('format'); bytes after the 28 are the frame's Ethernet padding.
//
// Pure: no Node built-ins (guest bundles import it).

import { readIpv4, readMac, writeIpv4, writeMac, type Ipv4Addr, type Mac } from './addr.ts';
import type { Malformed } from './malformed.ts';

export const ARP_HLEN = 28;
export const ARPHRD_ETHER = 1;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

export interface ArpPacket {
  op: number;
  sha: Mac;
  spa: Ipv4Addr;
  tha: Mac;
  tpa: Ipv4Addr;
}

export function decodeArp(b: Uint8Array, off: number, len: number): ArpPacket | Malformed {
  if (len < ARP_HLEN) return 'truncated';
  const htype = (b[off]! << 8) | b[off + 1]!;
  const ptype = (b[off + 2]! << 8) | b[off + 3]!;
  if (htype !== ARPHRD_ETHER || ptype !== 0x0800 || b[off + 4] !== 6 || b[off + 5] !== 4) return 'format';
  const op = (b[off + 6]! << 8) | b[off + 7]!;
  if (op !== ARPOP_REQUEST && op !== ARPOP_REPLY) return 'format';
  return { op, sha: readMac(b, off + 8), spa: readIpv4(b, off + 14), tha: readMac(b, off + 18), tpa: readIpv4(b, off + 24) };
}

export function encodeArp(b: Uint8Array, off: number, p: ArpPacket): void {
  if (off + ARP_HLEN > b.length) throw new RangeError('no room for an ARP packet');
  b[off] = 0;
  b[off + 1] = ARPHRD_ETHER;
  b[off + 2] = 0x08;
  b[off + 3] = 0x00;
  b[off + 4] = 6;
  b[off + 5] = 4;
  b[off + 6] = 0;
  b[off + 7] = p.op;
  writeMac(b, off + 8, p.sha);
  writeIpv4(b, off + 14, p.spa);
  writeMac(b, off + 18, p.tha);
  writeIpv4(b, off + 24, p.tpa);
}

/** Linux's neighbour probing as both stacks use it: ARP_RETRIES broadcast requests, ARP_RETRY_NS apart (net.ipv4.neigh.default.mcast_solicit = 3, retrans_time_ms = 1000). */
export const ARP_RETRY_NS = 1_000_000_000;
export const ARP_RETRIES = 3;
