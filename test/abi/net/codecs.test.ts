import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAC_BROADCAST, ipv4ToString, isMulticastMac, macToString, netmaskPrefix, parseIpv4, parseMac, readMac } from '../../../src/abi/net/addr.ts';
import { ARPOP_REQUEST, decodeArp, encodeArp } from '../../../src/abi/net/arp.ts';
import { checksum } from '../../../src/abi/net/checksum.ts';
import { ETH_P_ARP, ETH_P_IP, decodeEthernet, encodeEthernet } from '../../../src/abi/net/ethernet.ts';
import { ICMP_ECHO, decodeIcmp, encodeIcmp } from '../../../src/abi/net/icmp.ts';
import { IPPROTO_UDP, IP_DF, IP_MF, decodeIpv4, encodeIpv4, isFragment } from '../../../src/abi/net/ipv4.ts';
import { decodeUdp, encodeUdp } from '../../../src/abi/net/udp.ts';

const t = suite('abi/net codecs');
const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!, (x) => parseInt(x, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

t('RFC 1071 example: the sum is 0xddf2, the checksum its complement', () => {
  assert.is(checksum(hex('0001f203f4f5f6f7'), 0, 8), 0x220d);
  // An odd length pads with a zero byte.
  assert.is(checksum(hex('01'), 0, 1), 0xfeff);
});

t('addresses: parse, print, reject', () => {
  const m = parseMac('00:16:3E:00:00:02')!;
  assert.is(macToString(m), '00:16:3e:00:00:02');
  assert.is(parseMac('00:16:3e:00:00'), undefined);
  assert.is(parseMac('00:16:3e:00:00:0g'), undefined);
  assert.ok(isMulticastMac(MAC_BROADCAST));
  assert.ok(isMulticastMac(parseMac('01:00:5e:00:00:01')!));
  assert.not.ok(isMulticastMac(m));
  assert.is(ipv4ToString(parseIpv4('10.0.0.2')!), '10.0.0.2');
  for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.2.1', ' 10.0.0.2', '1e1.0.0.1']) assert.is(parseIpv4(bad), undefined, bad);
  assert.is(netmaskPrefix(parseIpv4('255.255.255.0')!), 24);
  assert.is(netmaskPrefix(0), 0);
  assert.is(netmaskPrefix(parseIpv4('255.0.255.0')!), undefined);
});

t('Ethernet: header fields, 802.3 length field and short or jumbo frames refused', () => {
  const f = hex('ffffffffffff 00163e000002 0806' + '00'.repeat(46));
  assert.equal(decodeEthernet(f), { dst: MAC_BROADCAST, src: parseMac('00:16:3e:00:00:02'), type: ETH_P_ARP });
  assert.is(decodeEthernet(f.subarray(0, 13)), 'truncated');
  assert.is(decodeEthernet(new Uint8Array(1515)), 'length');
  const llc = f.slice();
  llc[12] = 0x00;
  llc[13] = 0x2e; // an 802.3 length, not an EtherType
  assert.is(decodeEthernet(llc), 'format');
  const g = new Uint8Array(14);
  encodeEthernet(g, { dst: 0x00163e000002, src: 0x001b210a0b0c, type: ETH_P_IP });
  assert.is(toHex(g), '00163e000002001b210a0b0c0800');
});

t('ARP: a captured request decodes; other hardware/protocols and short packets are refused', () => {
  const f = hex('ffffffffffff 001b210a0b0c 0806 0001 0800 06 04 0001 001b210a0b0c 0a000001 000000000000 0a000002' + '00'.repeat(18));
  const p = decodeArp(f, 14, f.length - 14);
  assert.equal(p, { op: ARPOP_REQUEST, sha: 0x001b210a0b0c, spa: 0x0a000001, tha: 0, tpa: 0x0a000002 });
  const back = new Uint8Array(60);
  encodeArp(back, 14, p as Exclude<typeof p, string>);
  assert.is(toHex(back.subarray(14, 42)), toHex(f.subarray(14, 42)));
  assert.is(decodeArp(f, 14, 27), 'truncated');
  const ipv6 = f.slice();
  ipv6[17] = 0xdd; // ptype 0x86dd
  ipv6[16] = 0x86;
  assert.is(decodeArp(ipv6, 14, 46), 'format');
  const op3 = f.slice();
  op3[21] = 3; // RARP request
  assert.is(decodeArp(op3, 14, 46), 'format');
});

t('IPv4: the textbook header (checksum 0xb861), then every refusal', () => {
  const h = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
  const b = new Uint8Array(0x73);
  b.set(h);
  const p = decodeIpv4(b, 0, b.length);
  assert.ok(typeof p !== 'string');
  if (typeof p === 'string') return;
  assert.equal([p.proto, p.ttl, ipv4ToString(p.src), ipv4ToString(p.dst), p.payloadOff, p.payloadLen, p.fragOff], [IPPROTO_UDP, 64, '192.168.0.1', '192.168.0.199', 20, 0x73 - 20, IP_DF]);
  assert.not.ok(isFragment(p));
  // Our encoder writes the same bytes.
  const e = new Uint8Array(20);
  encodeIpv4(e, 0, { tos: 0, id: 0, fragOff: IP_DF, ttl: 64, proto: IPPROTO_UDP, src: 0xc0a80001, dst: 0xc0a800c7 }, 0x73 - 20);
  assert.is(toHex(e), toHex(h));
  // Ethernet padding after tot_len is ignored.
  const padded = new Uint8Array(0x73 + 10);
  padded.set(b);
  assert.is((decodeIpv4(padded, 0, padded.length) as { payloadLen: number }).payloadLen, 0x73 - 20);
  const bad = (patch: (x: Uint8Array) => void, len = b.length) => {
    const x = b.slice();
    patch(x);
    return decodeIpv4(x, 0, len);
  };
  assert.is(bad(() => {}, 19), 'truncated');
  assert.is(bad((x) => (x[0] = 0x65)), 'format', 'version 6');
  assert.is(bad((x) => (x[0] = 0x44)), 'format', 'ihl 4');
  assert.is(bad((x) => (x[3] = 0x74)), 'length', 'tot_len past the frame');
  assert.is(bad((x) => { x[2] = 0; x[3] = 19; }), 'length', 'tot_len below the header');
  assert.is(bad((x) => (x[0] = 0x46)), 'checksum', 'ihl 6 changes the covered bytes');
  assert.is(bad((x) => (x[11] = x[11]! ^ 1)), 'checksum');
  assert.is(bad((x) => (x[8] = 63)), 'checksum', 'a changed ttl without a new checksum');
  // A fragment is well formed; isFragment tells.
  const frag = new Uint8Array(40);
  encodeIpv4(frag, 0, { tos: 0, id: 7, fragOff: IP_MF, ttl: 64, proto: 1, src: 1, dst: 2 }, 20);
  assert.ok(isFragment(decodeIpv4(frag, 0, 40) as Exclude<ReturnType<typeof decodeIpv4>, string>));
  encodeIpv4(frag, 0, { tos: 0, id: 7, fragOff: 185, ttl: 64, proto: 1, src: 1, dst: 2 }, 20);
  assert.ok(isFragment(decodeIpv4(frag, 0, 40) as Exclude<ReturnType<typeof decodeIpv4>, string>));
});

t("ICMP: Windows' echo request (id 1, seq 1, a..w a..i) has checksum 0x4d5a", () => {
  const data = new TextEncoder().encode('abcdefghijklmnopqrstuvwabcdefghi');
  const b = new Uint8Array(8 + data.length);
  b.set(data, 8);
  encodeIcmp(b, 0, ICMP_ECHO, 0, 1, 1, data.length);
  assert.is(toHex(b.subarray(0, 8)), '08004d5a00010001');
  assert.equal(decodeIcmp(b, 0, b.length), { type: 8, code: 0, id: 1, seq: 1, dataOff: 8, dataLen: 32 });
  const bad = b.slice();
  bad[20] = bad[20]! ^ 0x20;
  assert.is(decodeIcmp(bad, 0, bad.length), 'checksum');
  assert.is(decodeIcmp(b, 0, 7), 'truncated');
  // A message cut short fails its checksum rather than being read as a shorter one.
  assert.is(decodeIcmp(b, 0, b.length - 2), 'checksum');
});

t('UDP: 10.0.0.1:1234 → 10.0.0.2:7 "hello" has checksum 0xa326; length and checksum refusals; 0 = none', () => {
  const src = 0x0a000001, dst = 0x0a000002;
  const b = new Uint8Array(13);
  b.set(new TextEncoder().encode('hello'), 8);
  encodeUdp(b, 0, 1234, 7, 5, src, dst);
  assert.is(toHex(b.subarray(0, 8)), '04d20007000da326');
  assert.equal(decodeUdp(b, 0, 13, src, dst), { sport: 1234, dport: 7, dataOff: 8, dataLen: 5 });
  assert.is(decodeUdp(b, 0, 13, src, dst + 1), 'checksum', 'the pseudo-header counts');
  assert.is(decodeUdp(b, 0, 7, src, dst), 'truncated');
  assert.is(decodeUdp(b, 0, 12, src, dst), 'length', 'len says 13, the IP payload is 12');
  const none = b.slice();
  none[6] = none[7] = 0;
  none[9] = none[9]! ^ 0xff;
  assert.ok(typeof decodeUdp(none, 0, 13, src, dst) !== 'string', 'checksum 0: not computed, accepted');
});

t('readMac reads 48 bits exactly', () => {
  assert.is(readMac(hex('fedcba987654'), 0), 0xfedcba987654);
});

t.run();
