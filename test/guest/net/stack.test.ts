// The guest stack on a fake netif and a fake clock: what it answers, what it
// queues, what it drops (and counts), frame by frame.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAC_BROADCAST, parseIpv4 } from '../../../src/abi/net/addr.ts';
import { ARPOP_REPLY, ARPOP_REQUEST, decodeArp, encodeArp } from '../../../src/abi/net/arp.ts';
import { ETH_P_ARP, ETH_P_IP, decodeEthernet, encodeEthernet } from '../../../src/abi/net/ethernet.ts';
import { ICMP_ECHO, ICMP_ECHOREPLY, decodeIcmp, encodeIcmp } from '../../../src/abi/net/icmp.ts';
import { IPPROTO_ICMP, IPPROTO_UDP, IP_MF, decodeIpv4, encodeIpv4 } from '../../../src/abi/net/ipv4.ts';
import { decodeUdp, encodeUdp } from '../../../src/abi/net/udp.ts';
import { ARP_CACHE_MAX, ARP_QUEUE_MAX } from '../../../src/guest/net/arp.ts';
import { ARP_RETRIES, ARP_RETRY_NS } from '../../../src/abi/net/arp.ts';
import type { NetClock } from '../../../src/guest/net/drops.ts';
import { Stack, parseStackConfig } from '../../../src/guest/net/stack.ts';
import { udpEcho } from '../../../src/guest/net/udp.ts';

const t = suite('guest/net stack');
const ME = 0x00163e000002, PEER = 0x001b210a0b0c;
const IP = parseIpv4('10.0.0.2')!, PEER_IP = parseIpv4('10.0.0.1')!;

class FakeClock implements NetClock {
  t = 0;
  timers: { at: number; fn: () => void; dead: boolean }[] = [];
  now = () => this.t;
  after = (ns: number, fn: () => void) => {
    const x = { at: this.t + ns, fn, dead: false };
    this.timers.push(x);
    return x;
  };
  cancel = (h: unknown) => void ((h as { dead: boolean } | undefined) && ((h as { dead: boolean }).dead = true));
  advance(ns: number): void {
    this.t += ns;
    for (const x of this.timers.splice(0)) {
      if (x.dead) continue;
      if (x.at <= this.t) x.fn();
      else this.timers.push(x);
    }
  }
}

function setup() {
  const sent: Uint8Array[] = [];
  const clock = new FakeClock();
  const s = new Stack({ send: (f) => (sent.push(f), true) }, parseStackConfig('00:16:3e:00:00:02', { ip: '10.0.0.2', netmask: '255.255.255.0' }), clock);
  return { s, sent, clock };
}

function arp(op: number, sha: number, spa: number, tha: number, tpa: number, dst = MAC_BROADCAST): Uint8Array {
  const f = new Uint8Array(60);
  encodeEthernet(f, { dst, src: sha, type: ETH_P_ARP });
  encodeArp(f, 14, { op, sha, spa, tha, tpa });
  return f;
}

function ip(proto: number, payload: Uint8Array, o: { src?: number; dst?: number; fragOff?: number; dmac?: number } = {}): Uint8Array {
  const f = new Uint8Array(34 + payload.length);
  encodeEthernet(f, { dst: o.dmac ?? ME, src: PEER, type: ETH_P_IP });
  f.set(payload, 34);
  encodeIpv4(f, 14, { tos: 0, id: 1, fragOff: o.fragOff ?? 0, ttl: 64, proto, src: o.src ?? PEER_IP, dst: o.dst ?? IP }, payload.length);
  return f;
}

function echo(id: number, seq: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + data.length);
  b.set(data, 8);
  encodeIcmp(b, 0, ICMP_ECHO, 0, id, seq, data.length);
  return b;
}

const parse = (f: Uint8Array) => {
  const e = decodeEthernet(f);
  if (typeof e === 'string') throw new Error(e);
  return e;
};

t('an ARP request for our address: answered by unicast, and its sender learnt', () => {
  const { s, sent } = setup();
  s.input(arp(ARPOP_REQUEST, PEER, PEER_IP, 0, IP));
  assert.is(sent.length, 1);
  const e = parse(sent[0]!);
  assert.equal([e.dst, e.src, e.type, sent[0]!.length], [PEER, ME, ETH_P_ARP, 60]);
  assert.equal(decodeArp(sent[0]!, 14, 46), { op: ARPOP_REPLY, sha: ME, spa: IP, tha: PEER, tpa: PEER_IP });
  assert.is(s.arp.lookup(PEER_IP), PEER);
  // A request for someone else: no answer, nothing learnt.
  s.input(arp(ARPOP_REQUEST, 0x020000000001, parseIpv4('10.0.0.7')!, 0, parseIpv4('10.0.0.8')!));
  assert.is(sent.length, 1);
  assert.is(s.arp.lookup(parseIpv4('10.0.0.7')!), undefined);
  // Someone claiming our address is refused.
  s.input(arp(ARPOP_REQUEST, 0x020000000001, IP, 0, IP));
  assert.is(s.arp.drops['duplicate-address'], 1);
});

t('an echo request is answered with the same id, sequence and data; TTL 64, DF, addresses swapped', () => {
  const { s, sent } = setup();
  s.input(arp(ARPOP_REQUEST, PEER, PEER_IP, 0, IP));
  sent.length = 0;
  const data = Uint8Array.from({ length: 56 }, (_, i) => i);
  s.input(ip(IPPROTO_ICMP, echo(0x1234, 7, data)));
  assert.is(sent.length, 1);
  const f = sent[0]!;
  assert.is(parse(f).dst, PEER);
  const p = decodeIpv4(f, 14, f.length - 14);
  if (typeof p === 'string') throw new Error(p);
  assert.equal([p.src, p.dst, p.ttl, p.proto, p.fragOff], [IP, PEER_IP, 64, IPPROTO_ICMP, 0x4000]);
  const m = decodeIcmp(f, p.payloadOff, p.payloadLen);
  if (typeof m === 'string') throw new Error(m);
  assert.equal([m.type, m.id, m.seq, m.dataLen], [ICMP_ECHOREPLY, 0x1234, 7, 56]);
  assert.equal(f.subarray(m.dataOff), data);
  assert.is(s.icmp.stats.echo_requests, 1);
  assert.is(s.dropped, 0);
});

t('malformed and unwanted frames are dropped and counted, never thrown', () => {
  const { s, sent } = setup();
  s.input(arp(ARPOP_REQUEST, PEER, PEER_IP, 0, IP));
  sent.length = 0;
  const good = ip(IPPROTO_ICMP, echo(1, 1, new Uint8Array(8)));
  const badIpSum = good.slice();
  badIpSum[24] = badIpSum[24]! ^ 0xff;
  const badIcmpSum = good.slice();
  badIcmpSum[40] = badIcmpSum[40]! ^ 0xff;
  const cut = good.slice(0, good.length - 4); // tot_len says more than arrived
  s.input(new Uint8Array(10));
  s.input(badIpSum);
  s.input(badIcmpSum);
  s.input(cut);
  s.input(ip(IPPROTO_ICMP, echo(1, 1, new Uint8Array(8)), { fragOff: IP_MF }));
  s.input(ip(IPPROTO_ICMP, echo(1, 1, new Uint8Array(8)), { dst: parseIpv4('10.0.0.9')! }));
  s.input(ip(IPPROTO_ICMP, echo(1, 1, new Uint8Array(8)), { dmac: 0x020000000009 }));
  s.input(ip(6, new Uint8Array(20)));
  s.input(ip(IPPROTO_ICMP, echo(1, 1, new Uint8Array(8)), { dst: parseIpv4('10.0.0.255')!, dmac: MAC_BROADCAST }));
  const garbage = new Uint8Array(200).fill(0x45); // tot_len 0x4545: longer than the frame
  garbage.set([0x00, 0x16, 0x3e, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
  s.input(garbage);
  assert.is(sent.length, 0, 'nothing answered');
  assert.equal(s.eth.drops, { truncated: 1, 'not-for-us': 1 });
  assert.equal(s.ipv4.drops, { checksum: 1, length: 2, fragment: 1, 'not-for-us': 1, protocol: 1 });
  assert.equal(s.icmp.drops, { checksum: 1, 'broadcast-echo': 1 });
  assert.is(s.dropped, 10);
  assert.match(s.dropReasons(), /^eth\.truncated=1 eth\.not-for-us=1 ip\.checksum=1 ip\.length=2 /);
});

t('sending to an unresolved address: request, queue, flush on the reply', () => {
  const { s, sent } = setup();
  assert.ok(s.udp.send(PEER_IP, 5000, 9, new Uint8Array([1, 2, 3])));
  assert.ok(s.udp.send(PEER_IP, 5000, 9, new Uint8Array([4])));
  assert.is(sent.length, 1, 'one request for two packets');
  assert.equal(decodeArp(sent[0]!, 14, 46), { op: ARPOP_REQUEST, sha: ME, spa: IP, tha: 0, tpa: PEER_IP });
  assert.is(parse(sent[0]!).dst, MAC_BROADCAST);
  s.input(arp(ARPOP_REPLY, PEER, PEER_IP, ME, IP, ME));
  assert.is(sent.length, 3);
  for (const f of sent.slice(1)) {
    assert.is(parse(f).dst, PEER);
    const p = decodeIpv4(f, 14, f.length - 14);
    if (typeof p === 'string') throw new Error(p);
    assert.is(p.proto, IPPROTO_UDP);
    assert.ok(typeof decodeUdp(f, p.payloadOff, p.payloadLen, p.src, p.dst) !== 'string');
  }
  // An unsolicited reply for an address nobody asked about is not learnt.
  s.input(arp(ARPOP_REPLY, 0x020000000007, parseIpv4('10.0.0.7')!, ME, IP, ME));
  assert.is(s.arp.lookup(parseIpv4('10.0.0.7')!), undefined);
});

t('an address that never answers: ARP_RETRIES requests a second apart, then the queue is dropped; queues are bounded', () => {
  const { s, sent, clock } = setup();
  let unreachable: [number, number] | undefined;
  s.arp.onUnreachable = (a, n) => (unreachable = [a, n]);
  const dst = parseIpv4('10.0.0.9')!;
  for (let i = 0; i < ARP_QUEUE_MAX + 3; i++) s.udp.send(dst, 1, 2, new Uint8Array(1));
  assert.is(s.arp.drops['queue-full'], 3);
  for (let i = 1; i < ARP_RETRIES; i++) {
    clock.advance(ARP_RETRY_NS);
    assert.is(sent.length, i + 1);
  }
  clock.advance(ARP_RETRY_NS);
  assert.is(sent.length, ARP_RETRIES);
  assert.equal(unreachable, [dst, ARP_QUEUE_MAX]);
  assert.is(s.arp.stats.unresolved, ARP_QUEUE_MAX);
  // Off-subnet without a gateway: no route.
  assert.not.ok(s.udp.send(parseIpv4('192.168.1.1')!, 1, 2, new Uint8Array(1)));
  assert.is(s.ipv4.drops['no-route'], 1);
});

t('the cache holds ARP_CACHE_MAX entries, oldest out first', () => {
  const { s } = setup();
  for (let i = 0; i < ARP_CACHE_MAX + 1; i++) s.input(arp(ARPOP_REQUEST, 0x020000000000 + i, 0x0a010000 + i, 0, IP));
  assert.is(s.arp.size, ARP_CACHE_MAX);
  assert.is(s.arp.lookup(0x0a010000), undefined);
  assert.is(s.arp.lookup(0x0a010000 + ARP_CACHE_MAX), 0x020000000000 + ARP_CACHE_MAX);
});

t('UDP: the echo service on port 7 answers to the sender port; unbound ports are counted', () => {
  const { s, sent } = setup();
  udpEcho(s.udp);
  s.input(arp(ARPOP_REQUEST, PEER, PEER_IP, 0, IP));
  sent.length = 0;
  const u = new Uint8Array(8 + 5);
  u.set(new TextEncoder().encode('hello'), 8);
  encodeUdp(u, 0, 40000, 7, 5, PEER_IP, IP);
  s.input(ip(IPPROTO_UDP, u));
  assert.is(sent.length, 1);
  const f = sent[0]!;
  const p = decodeIpv4(f, 14, f.length - 14);
  if (typeof p === 'string') throw new Error(p);
  const d = decodeUdp(f, p.payloadOff, p.payloadLen, p.src, p.dst);
  if (typeof d === 'string') throw new Error(d);
  assert.equal([d.sport, d.dport, new TextDecoder().decode(f.subarray(d.dataOff))], [7, 40000, 'hello']);
  encodeUdp(u, 0, 40000, 9, 5, PEER_IP, IP);
  s.input(ip(IPPROTO_UDP, u));
  assert.is(s.udp.drops.port, 1);
  assert.throws(() => s.udp.bind(7, () => {}), /already bound/);
});

t('configuration: ip and netmask from the command line, the MAC from xenstore; bad values are named', () => {
  const c = parseStackConfig('00:16:3e:00:00:02', { ip: '10.0.0.2' });
  assert.equal([c.ip, c.netmask, c.mac], [IP, 0xffffff00, ME]);
  assert.throws(() => parseStackConfig('00:16:3e', { ip: '10.0.0.2' }), /bad mac "00:16:3e"/);
  assert.throws(() => parseStackConfig('00:16:3e:00:00:02', {}), /no ip=/);
  assert.throws(() => parseStackConfig('00:16:3e:00:00:02', { ip: '10.0.0.300' }), /bad ip "10.0.0.300"/);
  assert.throws(() => parseStackConfig('00:16:3e:00:00:02', { ip: '10.0.0.2', netmask: '255.0.255.0' }), /bad netmask/);
});

t.run();
