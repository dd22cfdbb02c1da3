// Network benchmarks: `ping -f` between dom0 (xenbr0, 10.0.0.1) and
// kernels/ping.ts (10.0.0.2) on a whole machine, and UDP echo (port 7)
// throughput. Every frame crosses dom0's stack, the bridge, netback (TX copy
// or grant map, RX grant copy into the guest's posted buffer, event channels
// both ways), netfront, the guest's Ethernet/ARP/IPv4/ICMP/UDP and back.
// Anchor: the hypervisor-only interdomain ping-pong (bench/hypervisor.ts),
// measured in the same run, so the ratio says what share of the bare event
// round trip a packet round trip reaches.
import { parseIpv4 } from '../src/abi/net/addr.ts';
import { waitEvent } from '../src/sim/index.ts';
import { buildKernel, type KernelBundle } from '../src/machine/kernels.ts';
import { Machine } from '../src/machine/machine.ts';
import { dom0Command } from '../src/machine/shell.ts';
import { pingPong } from './hypervisor.ts';
import { median, type BenchOptions, type BenchRow } from './lib.ts';

async function machine(bundle: KernelBundle, latencyNs?: number): Promise<Machine> {
  const m = new Machine({ seed: 1, monitor: true, kernelOptions: latencyNs === undefined ? {} : { inet: { latencyNs } } });
  m.bundles.set('kernels/ping.ts', bundle);
  m.files.set('ping.cfg', `name = "ping"\nkernel = "kernels/ping.ts"\nmemory = 64\nvif = [ 'mac=00:16:3e:00:00:02,bridge=xenbr0' ]\nextra = "ip=10.0.0.2 netmask=255.255.255.0"\n`);
  const r = await m.xl('create ping.cfg');
  if (r.code !== 0) throw new Error(`xl create: ${r.stderr}`);
  m.sim.run({ until: m.sim.now + 300e6 });
  return m;
}

/** `ping -q -f -c n`: echo round trips per second of real time; throws unless 0% loss. */
function flood(m: Machine, n: number): number {
  const t0 = performance.now();
  const r = dom0Command(m, ['ping', '-q', '-f', '-c', String(n), '10.0.0.2'])!;
  const dt = (performance.now() - t0) / 1000;
  if (!r.stdout.includes(`${n} packets transmitted, ${n} received, 0% packet loss`)) throw new Error(`ping -f: ${r.stdout}`);
  return n / dt;
}

/** UDP echo with `window` datagrams of `size` bytes in flight: echoed datagrams per second. */
function udpEcho(m: Machine, n: number, size: number, window: number): number {
  const inet = m.kernel!.inet;
  const dst = parseIpv4('10.0.0.2')!;
  const data = new Uint8Array(size).fill(0x5a);
  const t0 = performance.now();
  const got = m.run(function* () {
    const s = inet.socket('udp', 40007);
    let sent = 0, echoed = 0;
    for (; sent < Math.min(window, n); sent++) inet.sendUdp(dst, 40007, 7, data);
    while (echoed < n) {
      if (!(yield* waitEvent(s.wq, () => s.rcvq.length > 0, 'S', 1e9))) break;
      while (s.rcvq.length > 0) {
        const x = s.rcvq.shift()!;
        if (x.sport === 7 && x.data.length === size) echoed++;
        if (sent < n) {
          inet.sendUdp(dst, 40007, 7, data);
          sent++;
        }
      }
    }
    s.close();
    return echoed;
  }, 'udp-echo');
  const dt = (performance.now() - t0) / 1000;
  if (got !== n) throw new Error(`udp echo: ${got} of ${n} came back`);
  return n / dt;
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.quick ? 20_000 : 100_000;
  const reps = 3;
  const bundle = await buildKernel('kernels/ping.ts');
  const m = await machine(bundle);
  flood(m, 5_000); // warm-up: JIT, ARP
  const pf: number[] = [];
  for (let i = 0; i < reps; i++) pf.push(flood(m, n));
  const m0 = await machine(bundle, 0);
  flood(m0, 5_000);
  const pf0: number[] = [];
  for (let i = 0; i < reps; i++) pf0.push(flood(m0, n));
  const size = 1024, window = 16, un = n / 2;
  udpEcho(m, 2_000, size, window);
  const ue: number[] = [];
  for (let i = 0; i < reps; i++) ue.push(udpEcho(m, un, size, window));
  const ppN = opts.quick ? 200_000 : 1_000_000;
  pingPong(ppN / 10);
  const pp: number[] = [];
  for (let i = 0; i < reps; i++) pp.push(pingPong(ppN));
  const anchor = median(pp);
  const f = median(pf), f0 = median(pf0), u = median(ue);
  const a = 'hypervisor ping-pong (host demux)';
  return [
    {
      group: 'net', name: 'ping -f dom0 → guest, echo round trips', value: f, unit: 'round trips/s', anchor: a, anchorValue: anchor, ratio: f / anchor,
      target: '>= 100,000 packets/s',
      note: `ratio ${(f / anchor).toExponential(2)}; median of ${reps} x ping -q -f -c ${n} (0% loss each) after 5,000 warm-up; one probe in flight (iputils flood); each round trip is 2 frames (frames/s = 2x); xenbr0 latency 25 us each way, so the sim idles twice per round trip`,
    },
    {
      group: 'net', name: 'ping -f, xenbr0 latency 0 (data path only)', value: f0, unit: 'round trips/s', anchor: a, anchorValue: anchor, ratio: f0 / anchor,
      target: '>= 100,000 packets/s',
      note: `ratio ${(f0 / anchor).toExponential(2)}; same, with Dom0KernelOptions.inet.latencyNs = 0: virtual time stands still, no timers, the hang oracle never runs`,
    },
    {
      group: 'net', name: `UDP echo port 7, ${size}-byte datagrams, ${window} in flight`, value: u, unit: 'datagrams/s', anchor: a, anchorValue: anchor, ratio: u / anchor,
      note: `ratio ${(u / anchor).toExponential(2)}; median of ${reps} x ${un} datagrams = ${((u * size * 2) / 1e6).toFixed(1)} MB/s of payload both ways; netback copies the first 128 bytes and grant-maps the rest (zerocopy) on the guest's TX`,
    },
  ];
}
