// Ethernet II framing (IEEE 802.3 with an EtherType; Linux
// include/uapi/linux/if_ether.h names), for the guest's stack and dom0's.
//
// Who talks: netfront and netback move whole frames (no FCS, no preamble)
// between the guest and dom0's bridge; nobody blocks on a frame. A frame is
//   dst u48 @0, src u48 @6, type u16 @12 (big-endian), payload @14.
// Ethernet has no length field: a frame shorter than ETH_ZLEN is padded by
// the sender's NIC, so the payload may end in padding. The layer above owns
// its length (IPv4 total_length, the fixed 28-byte ARP packet) and ignores the
// rest; that is the only place trailing bytes are accepted.
//
// Pure: no Node built-ins (guest bundles import it).

import { readMac, writeMac, type Mac } from './addr.ts';
import type { Malformed } from './malformed.ts';

export const ETH_ALEN = 6;
export const ETH_HLEN = 14;
/** Minimum frame without FCS: shorter frames are padded to this by the sender. */
export const ETH_ZLEN = 60;
/** Largest frame without FCS for the default 1500-byte MTU. */
export const ETH_FRAME_LEN = 1514;
export const ETH_DATA_LEN = 1500;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;

export interface EthHeader {
  dst: Mac;
  src: Mac;
  type: number;
}

/** Decode the header of `f`; the payload is f[ETH_HLEN..]. Frames over ETH_FRAME_LEN are 'length'. */
export function decodeEthernet(f: Uint8Array): EthHeader | Malformed {
  if (f.length < ETH_HLEN) return 'truncated';
  if (f.length > ETH_FRAME_LEN) return 'length';
  const type = (f[12]! << 8) | f[13]!;
  // 802.3 length field (≤ 1500) instead of an EtherType: not Ethernet II.
  if (type <= ETH_DATA_LEN) return 'format';
  return { dst: readMac(f, 0), src: readMac(f, 6), type };
}

export function encodeEthernet(f: Uint8Array, h: EthHeader): void {
  if (f.length < ETH_HLEN) throw new RangeError(`frame of ${f.length} bytes has no room for an Ethernet header`);
  writeMac(f, 0, h.dst);
  writeMac(f, 6, h.src);
  f[12] = h.type >>> 8;
  f[13] = h.type & 0xff;
}
