// Guest benchmarks: interdomain ping-pong through two booted kernels (vm
// realms, runtime demux, Activations, Lwt wakeups, the hypervisor's doors and
// event channels), and the boot time of the hello kernel (build excluded).
import type { BenchOptions, BenchRow } from './lib.ts';
import { median } from './lib.ts';
import { Sim } from '../src/sim/index.ts';
import { Hypervisor } from '../src/xen/index.ts';
import { buildKernel } from '../src/machine/kernels.ts';
import { bootBundle } from '../src/dom0/toolstack/xenguest.ts';

function host(seed = 1) {
  const sim = new Sim({ seed, preemptOneIn: 0 });
  const hv = new Hypervisor(sim);
  hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 1 << 20, vcpus: 1, host: true });
  return { sim, hv };
}

/**
 * Round trips/s through two kernels. `warmup` round trips run first in the
 * same realms, untimed: a fresh vm realm starts cold (its first ~10k round
 * trips cost 9-12 us each while V8 optimises the runtime), so the whole-run
 * figure mixes JIT warm-up with the steady state. Both are reported.
 */
async function pingpong(rounds: number, warmup = 0): Promise<number> {
  const b = await buildKernel('kernels/pingpong.ts');
  const { sim, hv } = host();
  const total = rounds + warmup;
  const s = bootBundle(hv, { bundle: b, name: 'pp-server', cmdline: `role=server peer=2 rounds=${total} quiet` });
  const c = bootBundle(hv, { bundle: b, name: 'pp-client', cmdline: `role=client peer=1 port=2 rounds=${total} quiet` });
  // Boot both first (not timed), then time the round trips.
  sim.runUntil(() => c.domain.evtchn.boundPorts().length >= 2 && s.domain.vcpus[0]!.state === 'halted');
  // The client's sends count its round trips (one send each): wrap its channel's send.
  let sends = 0;
  const ev = c.domain.evtchn;
  const send = ev.send.bind(ev);
  ev.send = (port: number, vcpu?: number) => {
    sends++;
    return send(port, vcpu);
  };
  if (warmup > 0) sim.runUntil(() => sends >= warmup);
  const done0 = sends;
  const t0 = performance.now();
  sim.run();
  const dt = (performance.now() - t0) / 1000;
  if (s.domain.shutdownReason !== 0 || c.domain.shutdownReason !== 0) throw new Error(`pingpong failed: ${c.domain.console}`);
  return (sends - done0) / dt;
}

/** The same ping-pong with no guests: host-side sends and clears on two domains' channels. */
function hypervisorOnly(rounds: number): number {
  const { hv } = host();
  const a = hv.createDomain({ name: 'a', memKiB: 64, vcpus: 1 });
  const b = hv.createDomain({ name: 'b', memKiB: 64, vcpus: 1 });
  const pa = a.evtchn.allocUnbound(b.id);
  const pb = b.evtchn.bindInterdomain(a.id, pa);
  b.evtchn.clearPending(pb);
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    a.evtchn.send(pa);
    b.evtchn.clearPending(pb);
    b.evtchn.send(pb);
    a.evtchn.clearPending(pa);
  }
  return rounds / ((performance.now() - t0) / 1000);
}

async function bootTimes(n: number): Promise<number[]> {
  const b = await buildKernel('kernels/hello.ts');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const { sim, hv } = host(i);
    const t0 = performance.now();
    const { domain } = bootBundle(hv, { bundle: b, name: 'hello' });
    sim.runUntil(() => domain.vcpus[0]!.state === 'halted' || domain.shutdownReason !== undefined);
    out.push(performance.now() - t0);
  }
  return out;
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const rounds = opts.quick ? 20_000 : 200_000;
  await pingpong(2000); // warm-up (JIT, build cache)
  const rt = await pingpong(rounds);
  const steady = await pingpong(rounds, opts.quick ? 20_000 : 50_000);
  const hvOnly = hypervisorOnly(rounds * 5);
  await bootTimes(5);
  const boots = await bootTimes(opts.quick ? 20 : 100);
  return [
    {
      group: 'guest', name: 'interdomain ping-pong, two kernels', value: rt, unit: 'round trips/s',
      anchor: 'hypervisor-only send/clear loop', anchorValue: hvOnly, ratio: rt / hvOnly, target: '>= 500,000 /s',
      note: `${rounds} round trips; vm realms + runtime demux + Activations + Lwt; anchor = EventChannels.send/clearPending with no guests`,
    },
    {
      group: 'guest', name: 'interdomain ping-pong, two kernels, after warm-up', value: steady, unit: 'round trips/s',
      anchor: 'hypervisor-only send/clear loop', anchorValue: hvOnly, ratio: steady / hvOnly, target: '>= 500,000 /s',
      note: `${rounds} round trips timed after ${opts.quick ? 20_000 : 50_000} untimed ones in the same two realms (steady state, JIT warm)`,
    },
    { group: 'guest', name: 'hello kernel boot (build excluded), median', value: median(boots), unit: 'ms', target: '<= 2 ms',
      note: `createDomain + layout + vm realm + bundle eval + start of day until first hlt; ${boots.length} boots` },
  ];
}
