// xenbr0's own address (dom0's IPv4 endpoint on the bridge), port by port.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAC_BROADCAST, parseIpv4 } from '../../../src/abi/net/addr.ts';
import { ARPOP_REPLY, ARPOP_REQUEST, decodeArp, encodeArp } from '../../../src/abi/net/arp.ts';
import { ETH_P_ARP, ETH_P_IP, decodeEthernet, encodeEthernet } from '../../../src/abi/net/ethernet.ts';
import { ICMP_ECHO, ICMP_ECHOREPLY, decodeIcmp, encodeIcmp } from '../../../src/abi/net/icmp.ts';
import { IPPROTO_ICMP, decodeIpv4, encodeIpv4 } from '../../../src/abi/net/ipv4.ts';
import { Sim } from '../../../src/sim/index.ts';
import { Bridge, type NetDevice } from '../../../src/dom0/kernel/bridge.ts';
import { Inet } from '../../../src/dom0/kernel/inet.ts';
import { ARP_RETRIES } from '../../../src/abi/net/arp.ts';
import { Skb } from '../../../src/dom0/kernel/skb.ts';

const t = suite('dom0 xenbr0 inet');
const GUEST = 0x00163e000002, GUEST_IP = parseIpv4('10.0.0.2')!, DOM0_IP = parseIpv4('10.0.0.1')!;

function setup(latencyNs = 0) {
  const sim = new Sim({ seed: 1 });
  const br = new Bridge();
  const inet = new Inet(sim, br, { latencyNs });
  br.addif(inet);
  const frames: Uint8Array[] = [];
  const port: NetDevice = { name: 'vif1.0', xmit: (skb) => (frames.push(skb.data()), skb.free()) };
  br.addif(port);
  const fromGuest = (f: Uint8Array, skb = new Skb(f)) => br.receive(skb, port);
  return { sim, br, inet, frames, fromGuest };
}

function arp(op: number, tpa: number, dst = MAC_BROADCAST): Uint8Array {
  const f = new Uint8Array(60);
  encodeEthernet(f, { dst, src: GUEST, type: ETH_P_ARP });
  encodeArp(f, 14, { op, sha: GUEST, spa: GUEST_IP, tha: 0, tpa });
  return f;
}

t('answers ARP for 10.0.0.1, then echo requests; 25 µs each way on the virtual clock', () => {
  const { sim, inet, frames, fromGuest } = setup(25_000);
  fromGuest(arp(ARPOP_REQUEST, DOM0_IP));
  sim.run();
  assert.is(sim.now, 50_000, 'up to the stack and back to the bridge');
  assert.is(frames.length, 1);
  assert.equal(decodeArp(frames[0]!, 14, 46), { op: ARPOP_REPLY, sha: inet.mac, spa: DOM0_IP, tha: GUEST, tpa: GUEST_IP });
  const e = new Uint8Array(34 + 8 + 4);
  encodeEthernet(e, { dst: inet.mac, src: GUEST, type: ETH_P_IP });
  e.set([1, 2, 3, 4], 42);
  encodeIcmp(e, 34, ICMP_ECHO, 0, 9, 3, 4);
  encodeIpv4(e, 14, { tos: 0, id: 0, fragOff: 0, ttl: 64, proto: IPPROTO_ICMP, src: GUEST_IP, dst: DOM0_IP }, 12);
  fromGuest(e);
  sim.run();
  const r = frames[1]!;
  assert.is((decodeEthernet(r) as { dst: number }).dst, GUEST);
  const p = decodeIpv4(r, 14, r.length - 14);
  if (typeof p === 'string') throw new Error(p);
  assert.equal(decodeIcmp(r, p.payloadOff, p.payloadLen), { type: ICMP_ECHOREPLY, code: 0, id: 9, seq: 3, dataOff: 42, dataLen: 4 });
});

t('frames not for xenbr0 are freed from the head alone: a guest zerocopy broadcast still completes as success', () => {
  const { inet, fromGuest } = setup();
  let result: boolean | undefined;
  const head = new Uint8Array(128).fill(0xff, 0, 6);
  head[12] = 0x08; // IPv4 broadcast: flooded to every port, xenbr0 included
  const skb = new Skb(head, [{ page: new ArrayBuffer(4096), offset: 0, len: 1372 }], { refs: 1, copied: false, callback: (ok) => (result = ok) });
  fromGuest(head, skb);
  assert.is(result, true, 'no port copied the frags');
  assert.is(inet.stats.rx_packets, 0);
});

t('an address nobody answers: ARP_RETRIES broadcasts a second apart, then host unreachable to the socket', () => {
  const { sim, inet, frames } = setup();
  const s = inet.socket('icmp');
  assert.ok(inet.sendEcho(parseIpv4('10.0.0.9')!, 77, 1, new Uint8Array(8)));
  assert.not.ok(inet.sendEcho(parseIpv4('10.1.0.9')!, 77, 1, new Uint8Array(8)), 'off the /24: no route');
  sim.run();
  assert.is(frames.length, ARP_RETRIES);
  assert.is(sim.now, ARP_RETRIES * 1e9);
  assert.equal(s.rcvq.map((m) => [m.src, m.type, m.code, m.id, m.seq]), [[DOM0_IP, 3, 1, 77, 1]]);
});

t.run();
