// UDP for the guest stack (Mirage tcpip src/udp/udp.ml): bind a port to a
// handler, send datagrams, and the echo service (RFC 862, port 7).
//
// Who talks: a peer sends a datagram to one of our ports; its handler runs
// right away, in the RX poll (it must not block: queue work instead). A
// datagram for an unbound port is dropped and counted ('port'); Linux would
// answer ICMP port unreachable, Mirage does not either. send() builds the
// frame and goes through IPv4 (and ARP); false means it was dropped.

import type { Ipv4Addr } from '../../abi/net/addr.ts';
import { IPPROTO_UDP, type Ipv4Packet } from '../../abi/net/ipv4.ts';
import { UDP_HLEN, decodeUdp, encodeUdp } from '../../abi/net/udp.ts';
import { drop, type Drops } from './drops.ts';
import { PAYLOAD_OFF, type Ipv4 } from './ipv4.ts';

/** RFC 862. */
export const ECHO_PORT = 7;

/** A datagram's data is a view into the received frame: copy it to keep it. */
export type UdpHandler = (src: Ipv4Addr, sport: number, data: Uint8Array, dst: Ipv4Addr) => void;

export class Udp {
  readonly stats = { rx_datagrams: 0, tx_datagrams: 0 };
  readonly drops: Drops = {};
  private readonly ports = new Map<number, UdpHandler>();

  constructor(readonly ip: Ipv4) {
    ip.udp = (p, b) => this.input(p, b);
  }

  /** Throws if the port is out of range or taken (a programming error, not input). */
  bind(port: number, h: UdpHandler): void {
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new RangeError(`udp: bad port ${port}`);
    if (this.ports.has(port)) throw new Error(`udp: port ${port} is already bound`);
    this.ports.set(port, h);
  }

  unbind(port: number): void {
    this.ports.delete(port);
  }

  send(dst: Ipv4Addr, sport: number, dport: number, data: Uint8Array): boolean {
    const f = this.ip.allocate(UDP_HLEN + data.length);
    f.set(data, PAYLOAD_OFF + UDP_HLEN);
    encodeUdp(f, PAYLOAD_OFF, sport, dport, data.length, this.ip.ip, dst);
    const ok = this.ip.output(f, dst, IPPROTO_UDP);
    if (ok) this.stats.tx_datagrams++;
    return ok;
  }

  input(p: Ipv4Packet, b: Uint8Array): void {
    const d = decodeUdp(b, p.payloadOff, p.payloadLen, p.src, p.dst);
    if (typeof d === 'string') return drop(this.drops, d);
    const h = this.ports.get(d.dport);
    if (!h) return drop(this.drops, 'port');
    this.stats.rx_datagrams++;
    h(p.src, d.sport, b.subarray(d.dataOff, d.dataOff + d.dataLen), p.dst);
  }
}

/** The echo service: every datagram to `port` goes back to its sender's port. */
export function udpEcho(udp: Udp, port = ECHO_PORT): void {
  udp.bind(port, (src, sport, data) => void udp.send(src, port, sport, data));
}
