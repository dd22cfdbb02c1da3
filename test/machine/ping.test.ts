// `ping` from dom0 to kernels/ping.ts on a whole machine (xl create, netback,
// the bridge, netfront, the guest stack), output compared with iputils'.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseIpv4 } from '../../src/abi/net/addr.ts';
import { waitEvent } from '../../src/sim/index.ts';
import { buildKernel, type KernelBundle } from '../../src/machine/kernels.ts';
import { Machine } from '../../src/machine/machine.ts';
import { dom0Command } from '../../src/machine/shell.ts';

const t = suite('machine: ping dom0 → kernels/ping.ts');
let bundle: KernelBundle;

t.before(async () => {
  bundle = await buildKernel('kernels/ping.ts');
});

async function machine(extra = 'ip=10.0.0.2 netmask=255.255.255.0', monitor = true): Promise<Machine> {
  const m = new Machine({ seed: 1, monitor });
  m.bundles.set('kernels/ping.ts', bundle);
  m.files.set('ping.cfg', `name = "ping"\nkernel = "kernels/ping.ts"\nmemory = 64\nvif = [ 'mac=00:16:3e:00:00:02,bridge=xenbr0' ]\nextra = "${extra}"\n`);
  const r = await m.xl('create ping.cfg');
  assert.is(r.code, 0, r.stderr);
  m.sim.run({ until: m.sim.now + 300e6 });
  return m;
}

const sh = (m: Machine, line: string) => dom0Command(m, line.split(' '))!;

t('ping -c 3: every line in iputils format, times from the virtual clock', async () => {
  const m = await machine();
  const r = sh(m, 'ping -c 3 10.0.0.2');
  assert.is(r.code, 0);
  assert.is(r.stderr, '');
  const lines = r.stdout.split('\n');
  assert.is(lines.length, 9);
  assert.is(lines[0], 'PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.');
  const times: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const x = /^64 bytes from 10\.0\.0\.2: icmp_seq=(\d+) ttl=64 time=(\d+)\.(\d{3}) ms$/.exec(lines[i]!);
    assert.ok(x, lines[i]);
    assert.is(Number(x![1]), i);
    times.push(Number(x![2]) * 1000 + Number(x![3]));
  }
  assert.is(lines[4], '');
  assert.is(lines[5], '--- 10.0.0.2 ping statistics ---');
  assert.match(lines[6]!, /^3 packets transmitted, 3 received, 0% packet loss, time \d+ms$/);
  const rtt = /^rtt min\/avg\/max\/mdev = (\d+)\.(\d{3})\/(\d+)\.(\d{3})\/(\d+)\.(\d{3})\/(\d+)\.(\d{3}) ms$/.exec(lines[7]!);
  assert.ok(rtt, lines[7]);
  const us = (i: number) => Number(rtt![i]) * 1000 + Number(rtt![i + 1]);
  assert.equal([us(1), us(3), us(5)], [Math.min(...times), Math.trunc(times.reduce((a, b) => a + b) / 3), Math.max(...times)]);
  assert.is(lines[8], '');
  // The exact run (deterministic): the first probe waits for ARP (one more
  // round trip), the others take 2 × xenbr0's 25 µs; one probe a second.
  assert.is(
    r.stdout,
    'PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n' +
      '64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.100 ms\n' +
      '64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.050 ms\n' +
      '64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=0.050 ms\n' +
      '\n--- 10.0.0.2 ping statistics ---\n' +
      '3 packets transmitted, 3 received, 0% packet loss, time 2000ms\n' +
      'rtt min/avg/max/mdev = 0.050/0.066/0.100/0.023 ms\n',
  );
  assert.is(m.kernel!.netback.vifs.get('vif1.0')!.stats.tx_packets, 4, 'one ARP reply and three echo replies');
});

t('ping -f -c 1000 -q: no loss, flood statistics with ipg/ewma; without -q one "." and one "\\b \\b" per probe', async () => {
  const m = await machine();
  const r = sh(m, 'ping -f -c 1000 -q 10.0.0.2');
  assert.is(r.code, 0);
  const lines = r.stdout.split('\n');
  assert.is(lines[0], 'PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.');
  assert.is(lines[1], '');
  assert.is(lines[2], '--- 10.0.0.2 ping statistics ---');
  assert.match(lines[3]!, /^1000 packets transmitted, 1000 received, 0% packet loss, time \d+ms$/);
  assert.match(lines[4]!, /^rtt min\/avg\/max\/mdev = \d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3} ms, ipg\/ewma \d+\.\d{3}\/\d+\.\d{3} ms$/);
  assert.is(lines.length, 6);
  const f = sh(m, 'ping -f -c 50 10.0.0.2');
  assert.is(f.code, 0);
  assert.is(f.stdout.slice(0, f.stdout.indexOf('\n--- ')), 'PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n' + '.\b \b'.repeat(50));
  assert.match(f.stdout, /\n50 packets transmitted, 50 received, 0% packet loss, time \d+ms\n/);
});

t('-s: 1400 bytes go through netback zerocopy (mapped, then copied up to the stack of dom0); -s 8 leaves no room for the timeval', async () => {
  const m = await machine();
  const big = sh(m, 'ping -c 2 -s 1400 10.0.0.2');
  assert.is(big.code, 0);
  assert.match(big.stdout, /^PING 10\.0\.0\.2 \(10\.0\.0\.2\) 1400\(1428\) bytes of data\.\n1408 bytes from 10\.0\.0\.2: icmp_seq=1 ttl=64 time=\d+\.\d{3} ms\n/);
  const st = m.kernel!.netback.vifs.get('vif1.0')!.stats;
  // Local delivery copies the frags (skb_orphan_frags_rx): each reply completes as a zerocopy "fail".
  assert.equal([st.tx_zerocopy_sent, st.tx_zerocopy_success, st.tx_zerocopy_fail], [2, 0, 2]);
  const small = sh(m, 'ping -c 2 -s 8 10.0.0.2');
  assert.is(
    small.stdout,
    'PING 10.0.0.2 (10.0.0.2) 8(36) bytes of data.\n' +
      '16 bytes from 10.0.0.2: icmp_seq=1 ttl=64\n16 bytes from 10.0.0.2: icmp_seq=2 ttl=64\n' +
      '\n--- 10.0.0.2 ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss, time 1000ms\n\n',
  );
});

t('flood sends the next probe when the reply arrives, else every 10 ms', async () => {
  const m = await machine();
  sh(m, 'ping -c 1 10.0.0.2'); // resolve ARP first
  const t0 = m.sim.now;
  const r = sh(m, 'ping -f -q -c 200 10.0.0.2');
  const time = Number(/time (\d+)ms/.exec(r.stdout)![1]);
  // 200 round trips of 50 µs: the last probe goes out ~10 ms after the first.
  assert.ok(time <= 11, r.stdout);
  assert.ok(m.sim.now - t0 < 20e6);
  // Nobody answers (the guest has gone): one probe per 10 ms (MININTERVAL).
  await m.xl('destroy 1');
  m.sim.run({ until: m.sim.now + 10e6 });
  const d = sh(m, 'ping -f -q -c 5 -W 1 10.0.0.2');
  assert.is(d.code, 1);
  assert.match(d.stdout, /\n5 packets transmitted, 0 received, 100% packet loss, time 40ms\n\n$/);
});

t('an address nobody answers: ARP fails, "Destination Host Unreachable" errors; bad arguments', async () => {
  const m = await machine();
  const r = sh(m, 'ping -c 2 10.0.0.9');
  assert.is(r.code, 1);
  assert.match(r.stdout, /^PING 10\.0\.0\.9 \(10\.0\.0\.9\) 56\(84\) bytes of data\.\nFrom 10\.0\.0\.1 icmp_seq=1 Destination Host Unreachable\nFrom 10\.0\.0\.1 icmp_seq=2 Destination Host Unreachable\n/);
  assert.match(r.stdout, /\n--- 10\.0\.0\.9 ping statistics ---\n2 packets transmitted, 0 received, \+2 errors, 100% packet loss, time \d+ms\n/);
  const bad: [string, string, number][] = [
    ['ping -c 1 10.1.0.1', 'ping: connect: Network is unreachable\n', 2],
    ['ping -c 1 nosuchhost', 'ping: nosuchhost: Name or service not known\n', 2],
    ['ping -c 0 10.0.0.2', "ping: invalid argument: '0': out of range: 1 <= value <= 9223372036854775807\n", 2],
    ['ping -i x 10.0.0.2', 'ping: bad timing interval: x\n', 2],
    ['ping', 'ping: usage error: Destination address required\n', 1],
  ];
  const w = sh(m, 'ping -w 3 10.0.0.2');
  assert.equal([w.code, w.stdout.split('\n')[6]], [0, '3 packets transmitted, 3 received, 0% packet loss, time 2000ms'], '-w 3: the alarm ends the run at 3 s');
  for (const [line, err, code] of bad) {
    const x = sh(m, line);
    assert.equal([x.code, x.stderr, x.stdout], [code, err, ''], line);
  }
});

t('UDP echo on port 7, and the kernel stops after count= echo requests with a summary line', async () => {
  // No xl monitor: the powered-off domain stays listed, its console readable.
  const m = await machine('ip=10.0.0.2 netmask=255.255.255.0 count=3', false);
  const inet = m.kernel!.inet;
  const got = m.run(function* () {
    const s = inet.socket('udp', 40000);
    inet.sendUdp(parseIpv4('10.0.0.2')!, 40000, 7, new TextEncoder().encode('hello'));
    yield* waitEvent(s.wq, () => s.rcvq.length > 0, 'S', 1e9);
    s.close();
    return s.rcvq.map((x) => [x.sport, new TextDecoder().decode(x.data)]);
  }, 'udp-echo');
  assert.equal(got, [[7, 'hello']]);
  assert.is(sh(m, 'ping -c 3 10.0.0.2').code, 0);
  m.sim.run({ until: m.sim.now + 10e6 });
  const con = m.consoled.output(1) ?? '';
  assert.match(con, /ping: 00:16:3e:00:00:02 10\.0\.0\.2 netmask 255\.255\.255\.0 on \/local\/domain\/0\/backend\/vif\/1\/0 \(port \d+\)\n/);
  assert.is(m.hv.domain(1)!.shutdownReason, 0, 'powered off');
  assert.match(con, /ping: stopped \(3 echo requests\): rx 5 tx 5 frames, arp 1\/1 requests\/replies, icmp 3\/3 echo requests\/replies, udp 1\/1 in\/out, dropped 0, \d+ heartbeats\n/);
});

t.run();
