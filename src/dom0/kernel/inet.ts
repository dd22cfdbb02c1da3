// dom0's own IPv4 endpoint on the bridge: the bridge device xenbr0 with an
// address (10.0.0.1/24 by default), as `ip addr add 10.0.0.1/24 dev xenbr0`
// gives a Xen host. Just enough of Linux net/ipv4 for `ping` and for UDP
// (arp.c: arp_process, the neighbour queue and its failure report;
// ip_input.c; icmp.c: icmp_echo; raw ICMP and UDP sockets).
//
// Who talks: the bridge treats xenbr0 as one of its ports. Frames the bridge
// forwards to it (broadcasts, our MAC) arrive through xmit() — the bridge's
// br_pass_frame_up — and reach the stack `latencyNs` later; frames dom0 sends
// leave through bridge.receive(skb, this) — br_dev_xmit — `latencyNs` after
// the send. Sockets never block here: received messages are queued on the
// socket (bounded, like sk_rcvbuf) and its wait queue is woken.
//
// The neighbour rules (Linux): a request for our address creates an entry for
// its sender and is answered; other ARP only refreshes entries. Unresolved
// destinations queue INET_UNRES_QLEN packets and send ARP_RETRIES broadcast
// requests ARP_RETRY_NS apart; then every queued packet is reported to its
// sender as ICMP host unreachable from our own address (arp_error_report →
// icmp_send), which is what ping prints as "Destination Host Unreachable".

import { ARP_RETRIES, ARP_RETRY_NS } from '../../abi/net/arp.ts';
import { MAC_BROADCAST, ipv4ToString, readMac, type Ipv4Addr, type Mac } from '../../abi/net/addr.ts';
import { ARPOP_REPLY, ARPOP_REQUEST, decodeArp, encodeArp } from '../../abi/net/arp.ts';
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_ZLEN, decodeEthernet, encodeEthernet } from '../../abi/net/ethernet.ts';
import { ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_HLEN, ICMP_HOST_UNREACH, decodeIcmp, encodeIcmp } from '../../abi/net/icmp.ts';
import { IPDEFTTL, IPPROTO_ICMP, IPPROTO_UDP, IPV4_HLEN, IP_DF, decodeIpv4, encodeIpv4, isFragment, type Ipv4Packet } from '../../abi/net/ipv4.ts';
import { decodeUdp, encodeUdp, UDP_HLEN } from '../../abi/net/udp.ts';
import { WaitQueue, type Sim } from '../../sim/index.ts';
import type { Bridge, NetDevice } from './bridge.ts';
import { Skb } from './skb.ts';
import { Slab } from '../../lib/slab.ts';

/** Packets queued per unresolved neighbour (unres_qlen). */
export const INET_UNRES_QLEN = 101;
/** Neighbour entries kept (Linux gc_thresh3): past it the oldest goes. */
export const INET_NEIGH_MAX = 1024;
/** Messages a socket holds before it drops (a stand-in for sk_rcvbuf). */
export const SOCK_RCVQ_MAX = 1024;
/** Where an upper layer's bytes start in a frame from allocate(). */
const PAYLOAD_OFF = ETH_HLEN + IPV4_HLEN;

export interface InetOptions {
  /** Address and prefix of xenbr0 (default 10.0.0.1/24). */
  ip?: Ipv4Addr;
  prefix?: number;
  /** xenbr0's MAC (Linux gives a bridge its lowest port MAC; default the NIC's, 00:1b:21:0a:0b:0c). */
  mac?: Mac;
  /**
   * One-way delay in ns between dom0's stack and the bridge, applied on send
   * and on receive (softirq and wire time folded into one knob; default
   * 25 µs, so a dom0 ↔ guest round trip is 0.050 ms of virtual time).
   */
  latencyNs?: number;
}

/** What a socket receives: a datagram, or an ICMP message (raw ICMP sockets). */
export interface InetMsg {
  src: Ipv4Addr;
  ttl: number;
  /** Virtual time the packet reached dom0's stack (SO_TIMESTAMP). */
  at: number;
  /** ICMP: type, code, id, seq; an error carries the id/seq of the packet it is about. */
  type: number;
  code: number;
  id: number;
  seq: number;
  sport: number;
  data: Uint8Array;
}

export class InetSocket {
  readonly rcvq: InetMsg[] = [];
  readonly wq = new WaitQueue();
  drops = 0;
  constructor(readonly inet: Inet, readonly kind: 'icmp' | 'udp', readonly port: number) {}

  deliver(m: InetMsg): void {
    if (this.rcvq.length >= SOCK_RCVQ_MAX) {
      this.drops++;
      return;
    }
    this.rcvq.push(m);
    this.wq.wakeAll();
  }

  close(): void {
    this.inet.close(this);
  }
}

interface Neigh {
  mac: Mac | undefined;
  queue: Uint8Array[];
  probes: number;
}

export class Inet implements NetDevice {
  readonly name: string;
  readonly ip: Ipv4Addr;
  readonly netmask: Ipv4Addr;
  readonly mac: Mac;
  readonly latencyNs: number;
  readonly stats = { rx_packets: 0, tx_packets: 0, rx_dropped: 0, arp_requests_tx: 0, arp_failed: 0 };
  private readonly neigh = new Map<Ipv4Addr, Neigh>();
  private readonly sockets = new Set<InetSocket>();
  private ipId = 0;
  /** Frames we build (lib/slab.ts: small typed arrays are costly one by one). */
  private readonly slab = new Slab();

  constructor(readonly sim: Sim, readonly bridge: Bridge, opts: InetOptions = {}) {
    this.name = bridge.name;
    this.ip = opts.ip ?? 0x0a000001;
    const prefix = opts.prefix ?? 24;
    this.netmask = prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
    this.mac = opts.mac ?? 0x001b210a0b0c;
    this.latencyNs = opts.latencyNs ?? 25_000;
  }

  get address(): string {
    return ipv4ToString(this.ip);
  }

  onLink(dst: Ipv4Addr): boolean {
    return ((dst ^ this.ip) & this.netmask) === 0;
  }

  socket(kind: 'icmp' | 'udp', port = 0): InetSocket {
    const s = new InetSocket(this, kind, port);
    this.sockets.add(s);
    return s;
  }

  close(s: InetSocket): void {
    this.sockets.delete(s);
  }

  // ------------------------------------------------------------ receive

  /**
   * br_pass_frame_up: the bridge hands us a frame (we own the skb). Only
   * frames for our MAC and broadcast ARP come up. Linux would pass every
   * broadcast up and copy its frags (skb_orphan_frags_rx), turning each
   * zerocopy broadcast a guest sends into a tx_zerocopy_fail; dom0's stack
   * has no use for them, so they are freed here untouched, from the head
   * alone, and the netback counters the scenarios read stay the NIC's.
   */
  xmit(skb: Skb): void {
    const h = skb.head;
    const dst = h.length >= ETH_HLEN ? readMac(h, 0) : -1;
    const type = h.length >= ETH_HLEN ? (h[12]! << 8) | h[13]! : -1;
    if (dst !== this.mac && !(dst === MAC_BROADCAST && type === ETH_P_ARP)) {
      skb.free();
      return;
    }
    const frame = skb.data();
    skb.free();
    if (this.latencyNs > 0) this.sim.clock.after(this.latencyNs, () => this.rcv(frame), 'xenbr0: netif_receive_skb');
    else this.rcv(frame);
  }

  private rcv(f: Uint8Array): void {
    const h = decodeEthernet(f);
    if (typeof h === 'string') {
      this.stats.rx_dropped++;
      return;
    }
    if (h.type === ETH_P_ARP) this.arpRcv(f);
    else if (h.type === ETH_P_IP) this.ipRcv(f);
    else this.stats.rx_dropped++;
  }

  private arpRcv(f: Uint8Array): void {
    const p = decodeArp(f, ETH_HLEN, f.length - ETH_HLEN);
    if (typeof p === 'string' || p.spa === this.ip) {
      this.stats.rx_dropped++;
      return;
    }
    const forUs = p.tpa === this.ip;
    const n = this.neigh.get(p.spa);
    if ((forUs && p.op === ARPOP_REQUEST) || n) this.neighUpdate(p.spa, p.sha);
    if (forUs && p.op === ARPOP_REQUEST) this.arpSend(ARPOP_REPLY, p.sha, p.sha, p.spa);
  }

  private ipRcv(f: Uint8Array): void {
    const p = decodeIpv4(f, ETH_HLEN, f.length - ETH_HLEN);
    if (typeof p === 'string' || isFragment(p) || p.dst !== this.ip) {
      this.stats.rx_dropped++;
      return;
    }
    this.stats.rx_packets++;
    if (p.proto === IPPROTO_ICMP) this.icmpRcv(p, f);
    else if (p.proto === IPPROTO_UDP) this.udpRcv(p, f);
    else this.stats.rx_dropped++;
  }

  private icmpRcv(p: Ipv4Packet, f: Uint8Array): void {
    const m = decodeIcmp(f, p.payloadOff, p.payloadLen);
    if (typeof m === 'string') {
      this.stats.rx_dropped++;
      return;
    }
    if (m.type === ICMP_ECHO) {
      // icmp_echo: answer with the same id, sequence and data.
      const out = this.allocate(ICMP_HLEN + m.dataLen);
      out.set(f.subarray(m.dataOff, m.dataOff + m.dataLen), PAYLOAD_OFF + ICMP_HLEN);
      encodeIcmp(out, PAYLOAD_OFF, ICMP_ECHOREPLY, 0, m.id, m.seq, m.dataLen);
      this.output(out, p.src, IPPROTO_ICMP);
      return;
    }
    const msg: InetMsg = {
      src: p.src, ttl: p.ttl, at: this.sim.now, type: m.type, code: m.code, id: m.id, seq: m.seq, sport: 0,
      data: f.subarray(m.dataOff, m.dataOff + m.dataLen),
    };
    for (const s of this.sockets) if (s.kind === 'icmp') s.deliver(msg);
  }

  private udpRcv(p: Ipv4Packet, f: Uint8Array): void {
    const d = decodeUdp(f, p.payloadOff, p.payloadLen, p.src, p.dst);
    if (typeof d === 'string') {
      this.stats.rx_dropped++;
      return;
    }
    for (const s of this.sockets) {
      if (s.kind !== 'udp' || s.port !== d.dport) continue;
      s.deliver({ src: p.src, ttl: p.ttl, at: this.sim.now, type: 0, code: 0, id: 0, seq: 0, sport: d.sport, data: f.subarray(d.dataOff, d.dataOff + d.dataLen) });
      return;
    }
    this.stats.rx_dropped++;
  }

  // ------------------------------------------------------------ send

  allocate(payloadLen: number): Uint8Array {
    return this.slab.alloc(PAYLOAD_OFF + payloadLen);
  }

  /** sendto() on a raw ICMP socket: an echo request with `data`. False: no route (ENETUNREACH). */
  sendEcho(dst: Ipv4Addr, id: number, seq: number, data: Uint8Array): boolean {
    const f = this.allocate(ICMP_HLEN + data.length);
    f.set(data, PAYLOAD_OFF + ICMP_HLEN);
    encodeIcmp(f, PAYLOAD_OFF, ICMP_ECHO, 0, id, seq, data.length);
    return this.output(f, dst, IPPROTO_ICMP);
  }

  /** sendto() on a UDP socket bound to `sport`. */
  sendUdp(dst: Ipv4Addr, sport: number, dport: number, data: Uint8Array): boolean {
    const f = this.allocate(UDP_HLEN + data.length);
    f.set(data, PAYLOAD_OFF + UDP_HLEN);
    encodeUdp(f, PAYLOAD_OFF, sport, dport, data.length, this.ip, dst);
    return this.output(f, dst, IPPROTO_UDP);
  }

  private output(f: Uint8Array, dst: Ipv4Addr, proto: number): boolean {
    if (!this.onLink(dst)) return false;
    encodeIpv4(f, ETH_HLEN, { tos: 0, id: this.ipId, fragOff: IP_DF, ttl: IPDEFTTL, proto, src: this.ip, dst }, f.length - PAYLOAD_OFF);
    this.ipId = (this.ipId + 1) & 0xffff;
    this.stats.tx_packets++;
    let n = this.neigh.get(dst);
    if (n?.mac !== undefined) {
      this.devXmit(f, n.mac, ETH_P_IP);
      return true;
    }
    if (!n) {
      n = { mac: undefined, queue: [], probes: 0 };
      this.neighAdd(dst, n);
      this.probe(dst, n);
    }
    if (n.queue.length < INET_UNRES_QLEN) n.queue.push(f);
    return true;
  }

  private probe(ip: Ipv4Addr, n: Neigh): void {
    if (n.mac !== undefined || this.neigh.get(ip) !== n) return;
    if (n.probes >= ARP_RETRIES) {
      // neigh_invalidate → arp_error_report → icmp_send(HOST_UNREACH) to ourselves.
      this.neigh.delete(ip);
      this.stats.arp_failed++;
      for (const f of n.queue) this.hostUnreachable(f);
      return;
    }
    n.probes++;
    this.arpSend(ARPOP_REQUEST, MAC_BROADCAST, 0, ip);
    this.sim.clock.after(ARP_RETRY_NS, () => this.probe(ip, n), `${this.name}: arp probe`);
  }

  private hostUnreachable(f: Uint8Array): void {
    const p = decodeIpv4(f, ETH_HLEN, f.length - ETH_HLEN);
    if (typeof p === 'string' || p.proto !== IPPROTO_ICMP) return;
    const m = decodeIcmp(f, p.payloadOff, p.payloadLen);
    if (typeof m === 'string') return;
    const msg: InetMsg = { src: this.ip, ttl: IPDEFTTL, at: this.sim.now, type: ICMP_DEST_UNREACH, code: ICMP_HOST_UNREACH, id: m.id, seq: m.seq, sport: 0, data: new Uint8Array(0) };
    for (const s of this.sockets) if (s.kind === 'icmp') s.deliver(msg);
  }

  private neighUpdate(ip: Ipv4Addr, mac: Mac): void {
    const n = this.neigh.get(ip);
    if (!n) {
      this.neighAdd(ip, { mac, queue: [], probes: 0 });
      return;
    }
    n.mac = mac;
    const q = n.queue.splice(0);
    for (const f of q) this.devXmit(f, mac, ETH_P_IP);
  }

  /** Insert, evicting the oldest entry at INET_NEIGH_MAX (Map order is insertion order). */
  private neighAdd(ip: Ipv4Addr, n: Neigh): void {
    if (this.neigh.size >= INET_NEIGH_MAX) this.neigh.delete(this.neigh.keys().next().value!);
    this.neigh.set(ip, n);
  }

  private arpSend(op: number, dst: Mac, tha: Mac, tpa: Ipv4Addr): void {
    const f = new Uint8Array(ETH_ZLEN);
    encodeArp(f, ETH_HLEN, { op, sha: this.mac, spa: this.ip, tha, tpa });
    if (op === ARPOP_REQUEST) this.stats.arp_requests_tx++;
    this.devXmit(f, dst, ETH_P_ARP);
  }

  /**
   * An AF_PACKET (SOCK_RAW) send on xenbr0: `frame` carries its own Ethernet
   * header (net/packet/af_packet.c: packet_snd → dev_queue_xmit → br_dev_xmit).
   */
  packetSend(frame: Uint8Array): void {
    this.stats.tx_packets++;
    if (this.latencyNs > 0) this.sim.clock.after(this.latencyNs, () => this.toBridge(frame), 'xenbr0: br_dev_xmit');
    else this.toBridge(frame);
  }

  /** br_dev_xmit: into the bridge as if received on our port. */
  private devXmit(f: Uint8Array, dst: Mac, type: number): void {
    encodeEthernet(f, { dst, src: this.mac, type });
    if (this.latencyNs > 0) this.sim.clock.after(this.latencyNs, () => this.toBridge(f), 'xenbr0: br_dev_xmit');
    else this.toBridge(f);
  }

  private toBridge(f: Uint8Array): void {
    const skb = new Skb(f);
    skb.dev = this.name;
    this.bridge.receive(skb, this);
  }
}
