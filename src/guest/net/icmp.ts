// ICMP for the guest stack (Mirage tcpip src/icmp/icmpv4.ml; Linux
// net/ipv4/icmp.c: icmp_echo): answer echo requests, report echo replies.
//
// Who talks: a pinger (dom0's `ping`) sends ECHO to our address; we answer at
// once with ECHOREPLY carrying the same id, sequence and data, through IPv4
// (and ARP, which may queue it). Echo requests to a broadcast address are
// ignored, as Linux does by default (icmp_echo_ignore_broadcasts = 1), so a
// subnet-wide ping cannot make every guest answer. Nothing blocks.

import { ICMP_ECHO, ICMP_ECHOREPLY, ICMP_HLEN, decodeIcmp, encodeIcmp } from '../../abi/net/icmp.ts';
import { IPPROTO_ICMP, type Ipv4Packet } from '../../abi/net/ipv4.ts';
import type { Ipv4Addr } from '../../abi/net/addr.ts';
import { drop, type Drops } from './drops.ts';
import { PAYLOAD_OFF, type Ipv4 } from './ipv4.ts';

export class Icmpv4 {
  readonly stats = { echo_requests: 0, echo_replies_tx: 0, echo_replies_rx: 0 };
  readonly drops: Drops = {};
  /** Told of each echo reply that arrives (id, sequence, data). */
  onEchoReply: ((src: Ipv4Addr, id: number, seq: number, data: Uint8Array) => void) | undefined;

  constructor(readonly ip: Ipv4) {
    ip.icmp = (p, b) => this.input(p, b);
  }

  input(p: Ipv4Packet, b: Uint8Array): void {
    const m = decodeIcmp(b, p.payloadOff, p.payloadLen);
    if (typeof m === 'string') return drop(this.drops, m);
    if (m.type === ICMP_ECHO && m.code === 0) {
      if (this.ip.isBroadcast(p.dst)) return drop(this.drops, 'broadcast-echo');
      this.stats.echo_requests++;
      const f = this.ip.allocate(ICMP_HLEN + m.dataLen);
      f.set(b.subarray(m.dataOff, m.dataOff + m.dataLen), PAYLOAD_OFF + ICMP_HLEN);
      encodeIcmp(f, PAYLOAD_OFF, ICMP_ECHOREPLY, 0, m.id, m.seq, m.dataLen);
      if (this.ip.output(f, p.src, IPPROTO_ICMP)) this.stats.echo_replies_tx++;
      return;
    }
    if (m.type === ICMP_ECHOREPLY) {
      this.stats.echo_replies_rx++;
      this.onEchoReply?.(p.src, m.id, m.seq, b.subarray(m.dataOff, m.dataOff + m.dataLen));
      return;
    }
    drop(this.drops, 'type');
  }
}
