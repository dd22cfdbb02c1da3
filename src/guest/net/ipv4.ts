// IPv4 for the guest stack (Mirage tcpip src/ipv4/static_ipv4.ml): one
// address and netmask, an optional gateway, no fragmentation.
//
// Who talks: Ethernet hands every IPv4 payload to input(); the packets for
// us go to ICMP or UDP. Upper layers build a frame with allocate(), write
// their bytes from PAYLOAD_OFF and call output(), which fills the IPv4
// header and leaves the link-layer address to ARP (the next hop: the
// destination if it is on our subnet, else the gateway). Nothing blocks.
//
// Dropped and counted, never thrown: malformed headers (the codec's reason),
// fragments ('fragment': we do not reassemble, as Mirage's static IPv4 did
// not), packets for another address ('not-for-us'), unknown protocols
// ('protocol'), and output with no route ('no-route').

import { IPV4_BROADCAST, MAC_BROADCAST, type Ipv4Addr } from '../../abi/net/addr.ts';
import { ETH_HLEN, ETH_P_IP } from '../../abi/net/ethernet.ts';
import { IPDEFTTL, IPPROTO_ICMP, IPPROTO_UDP, IPV4_HLEN, IP_DF, decodeIpv4, encodeIpv4, isFragment, type Ipv4Packet } from '../../abi/net/ipv4.ts';
import { Slab } from '../../lib/slab.ts';
import type { Arpv4 } from './arp.ts';
import { drop, type Drops } from './drops.ts';
import type { Ethif } from './ethernet.ts';

/** Where an upper layer writes its bytes in a frame from allocate(). */
export const PAYLOAD_OFF = ETH_HLEN + IPV4_HLEN;

export interface Ipv4Config {
  ip: Ipv4Addr;
  netmask: Ipv4Addr;
  gateway?: Ipv4Addr;
}

export type IpInput = (p: Ipv4Packet, b: Uint8Array) => void;

export class Ipv4 {
  readonly stats = { rx_packets: 0, tx_packets: 0 };
  readonly drops: Drops = {};
  icmp: IpInput | undefined;
  udp: IpInput | undefined;
  /** ip_ident: one counter for every destination. */
  private id = 0;
  /** Frames we build (lib/slab.ts: small typed arrays are costly one by one). */
  private readonly slab = new Slab();

  constructor(readonly eth: Ethif, readonly arp: Arpv4, readonly cfg: Ipv4Config) {
    eth.ipv4 = (b, off, len) => this.input(b, off, len);
  }

  get ip(): Ipv4Addr {
    return this.cfg.ip;
  }

  private get subnetBroadcast(): Ipv4Addr {
    return (this.cfg.ip | ~this.cfg.netmask) >>> 0;
  }

  input(b: Uint8Array, off: number, len: number): void {
    const p = decodeIpv4(b, off, len);
    if (typeof p === 'string') return drop(this.drops, p);
    if (isFragment(p)) return drop(this.drops, 'fragment');
    if (p.dst !== this.cfg.ip && p.dst !== IPV4_BROADCAST && p.dst !== this.subnetBroadcast) return drop(this.drops, 'not-for-us');
    this.stats.rx_packets++;
    const up = p.proto === IPPROTO_ICMP ? this.icmp : p.proto === IPPROTO_UDP ? this.udp : undefined;
    if (!up) return drop(this.drops, 'protocol');
    up(p, b);
  }

  /** A zeroed frame with room for `payloadLen` bytes at PAYLOAD_OFF. */
  allocate(payloadLen: number): Uint8Array {
    return this.slab.alloc(PAYLOAD_OFF + payloadLen);
  }

  isBroadcast(a: Ipv4Addr): boolean {
    return a === IPV4_BROADCAST || a === this.subnetBroadcast;
  }

  /** Fill the IPv4 header of `frame` and send it towards `dst`. False if dropped. */
  output(frame: Uint8Array, dst: Ipv4Addr, proto: number): boolean {
    const payloadLen = frame.length - PAYLOAD_OFF;
    encodeIpv4(frame, ETH_HLEN, { tos: 0, id: this.id, fragOff: IP_DF, ttl: IPDEFTTL, proto, src: this.cfg.ip, dst }, payloadLen);
    this.id = (this.id + 1) & 0xffff;
    this.stats.tx_packets++;
    if (this.isBroadcast(dst)) return this.eth.write(frame, MAC_BROADCAST, ETH_P_IP);
    const onLink = ((dst ^ this.cfg.ip) & this.cfg.netmask) === 0;
    const hop = onLink ? dst : this.cfg.gateway;
    if (hop === undefined) {
      drop(this.drops, 'no-route');
      return false;
    }
    return this.arp.output(hop, frame);
  }
}
