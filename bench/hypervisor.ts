// Hypervisor benchmark: interdomain event ping-pong inside the emulated
// hypervisor alone (two host domains, no guest code): send -> set_pending ->
// upcall edge -> host demux task on the sim run queue -> handler -> send back.
// Anchor: a bare loop doing only the same bitmap operations on typed arrays
// (pending/mask/selector/upcall_pending, both directions), i.e. the floor the
// emulation overhead is measured against.
import { Sim } from '../src/sim/index.ts';
import { FakeGuest } from '../test/support/fake_guest.ts';
import { Hypervisor } from '../src/xen/index.ts';
import { attachDom0Events } from '../src/dom0/kernel/events.ts';
import { median, type BenchOptions, type BenchRow } from './lib.ts';

/** Round trips per second (also the anchor of bench/net.ts). `abi`: the port ABI of both host domains' kernels (the 2L row is the hot path the anchor mirrors). */
export function pingPong(n: number, trace = false, abi: '2l' | 'fifo' = '2l'): number {
  const sim = new Sim({ seed: 1, trace });
  const hv = new Hypervisor(sim, { hangOracle: false });
  const a = hv.createDomain({ domid: 0, name: 'a', memKiB: 1024, vcpus: 1, host: true });
  const b = hv.createDomain({ domid: 1, name: 'b', memKiB: 1024, vcpus: 1, host: true });
  const pa = a.evtchn.allocUnbound(1);
  const pb = b.evtchn.bindInterdomain(0, pa);
  b.evtchn.clearPending(pb);
  b.shared.u32[2] = 0;
  b.shared.u8[0] = 0;
  sim.run();
  let trips = 0;
  const ea = attachDom0Events(a, abi), eb = attachDom0Events(b, abi);
  ea.bindHandler(pa, () => { if (++trips < n) a.evtchn.send(pa); });
  eb.bindHandler(pb, () => { b.evtchn.send(pb); });
  const t0 = process.hrtime.bigint();
  b.evtchn.send(pb);
  sim.run();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (trips !== n) throw new Error(`ping-pong: ${trips} of ${n}`);
  return n / dt;
}

/** Two FakeGuests (plain TS, no vm realm) ping-pong through the GuestDoors: hypercalls, upcall vectors, hlt/resume. */
function guestPingPong(n: number): number {
  const sim = new Sim({ seed: 1, preemptOneIn: 0 });
  const hv = new Hypervisor(sim, { hangOracle: false });
  hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 1024, vcpus: 1, host: true });
  const a = hv.createDomain({ name: 'a', memKiB: 256, vcpus: 1 });
  const b = hv.createDomain({ name: 'b', memKiB: 256, vcpus: 1 });
  const pa = a.evtchn.allocUnbound(b.id);
  let trips = 0;
  let pb = -1;
  const ga = new FakeGuest(a.vcpus[0]!, { event: (g, port) => { if (port === pa && ++trips < n) g.send(pa); } });
  const gb = new FakeGuest(b.vcpus[0]!, {
    start: (g) => { pb = g.bindInterdomain(a.id, pa); },
    event: (g, port) => { if (port === pb) g.send(pb); },
  });
  const t0 = process.hrtime.bigint();
  a.vcpus[0]!.start(ga);
  b.vcpus[0]!.start(gb);
  sim.run();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (trips !== n) throw new Error(`guest ping-pong: ${trips} of ${n}`);
  return n / dt;
}

/** The same bitmap work with nothing around it: 2 x (set_pending + mark + demux) per round trip. */
function bareLoop(n: number): number {
  const A = new Uint32Array(1024);
  const B = new Uint32Array(1024);
  const au8 = new Uint8Array(A.buffer);
  const bu8 = new Uint8Array(B.buffer);
  const port = 1;
  let trips = 0;
  const setPending = (u32: Uint32Array, u8: Uint8Array): boolean => {
    const b = 1 << (port & 31);
    const pi = 512 + (port >> 5);
    if (u32[pi]! & b) return false;
    u32[pi]! |= b;
    if ((u32[640 + (port >> 5)]! & b) === 0) {
      const sb = 1 << ((port >> 6) & 31);
      if ((u32[2]! & sb) === 0) {
        u32[2]! |= sb;
        if (u8[0] === 0) { u8[0] = 1; return true; }
      }
    }
    return false;
  };
  const demux = (u32: Uint32Array, u8: Uint8Array): number => {
    u8[0] = 0;
    let sel = u32[2]!;
    u32[2] = 0;
    let got = 0;
    while (sel !== 0) {
      const bit = 31 - Math.clz32(sel & -sel);
      sel &= sel - 1;
      for (let k = 0; k < 2; k++) {
        const w = bit * 2 + k;
        let bits = u32[512 + w]! & ~u32[640 + w]!;
        while (bits !== 0) {
          const b = bits & -bits;
          bits &= bits - 1;
          u32[512 + w]! &= ~b;
          got++;
        }
      }
    }
    return got;
  };
  const t0 = process.hrtime.bigint();
  while (trips < n) {
    if (setPending(B, bu8)) demux(B, bu8);
    if (setPending(A, au8)) trips += demux(A, au8);
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  return n / dt;
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.quick ? 200_000 : 2_000_000;
  const reps = opts.quick ? 3 : 5;
  pingPong(n / 10);
  bareLoop(n / 10); // warm up
  const pp: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < reps; i++) {
    pp.push(pingPong(n));
    bare.push(bareLoop(n));
  }
  const fifo: number[] = [];
  pingPong(n / 10, false, 'fifo');
  for (let i = 0; i < reps; i++) fifo.push(pingPong(n, false, 'fifo'));
  const gp: number[] = [];
  guestPingPong(n / 20);
  for (let i = 0; i < reps; i++) gp.push(guestPingPong(n / 10));
  const ppTrace = opts.quick ? undefined : pingPong(200_000, true);
  const v = median(pp);
  const b = median(bare);
  const rows: BenchRow[] = [{
    group: 'hypervisor',
    name: 'interdomain ping-pong (host demux)',
    value: v,
    unit: 'round trips/s',
    anchor: 'bare bitmap loop',
    anchorValue: b,
    ratio: v / b,
    target: '>= 1,000,000 /s',
    note: `median of ${reps} x ${n.toLocaleString('en-US')} round trips; ratio = emulated / bare (share of the floor reached)`,
  }];
  rows.push({
    group: 'hypervisor',
    name: 'interdomain ping-pong (host demux, FIFO)',
    value: median(fifo),
    unit: 'round trips/s',
    note: 'both host kernels on the FIFO ABI (src/xen/evtchn_fifo.ts, src/dom0/kernel/events_fifo.ts): link on a queue, ready bit, one queue walk per upcall',
  });
  rows.push({
    group: 'hypervisor',
    name: 'interdomain ping-pong, 2 fake guests via doors',
    value: median(gp),
    unit: 'round trips/s',
    note: 'FakeGuest (src/xen/fake_guest.ts): per-vCPU vector, cli/check/sti/hlt loop, no vm realm; an upper bound for the guest runtime',
  });
  if (ppTrace !== undefined) rows.push({ group: 'hypervisor', name: 'interdomain ping-pong, tracing on', value: ppTrace, unit: 'round trips/s', note: 'Chrome trace with a flow per send' });
  return rows;
}
