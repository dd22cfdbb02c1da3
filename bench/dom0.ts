// dom0 benchmarks (the toolstack and system glue):
//   * create+destroy latency of a healthy domain (one vif) under mtwatch, on
//     a host where another domain's netback is stalled (the (null) zombie,
//     [xen-mtwatch-1] in D) vs the same host without the stall. Host wall-clock
//     ms per create+destroy, and the virtual time it took. Target ratio <= 1.1.
//   * dom0-side memory per domain at 1,000 domains: heap delta / 1000 of a
//     host (hypervisor records, xenstored nodes, dom0 kernel backends and
//     mtwatch threads, libxl) measured in a child process with --expose-gc.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchRow } from './lib.ts';
import { median } from './lib.ts';
import { Machine } from '../src/machine/machine.ts';
import { xenwatchStall } from '../src/machine/scenarios/index.ts';

const HEALTHY = 'name = "h"\nmemory = 4\nvif = [ "bridge=xenbr0" ]\n';

function cycle(host: Machine): { wallMs: number; virtNs: number } {
  const v0 = host.sim.now;
  const t0 = performance.now();
  const c = host.xlSync('create healthy.cfg');
  const d = host.xlSync('destroy h');
  const wallMs = performance.now() - t0;
  if (c.code !== 0 || d.code !== 0 || c.stderr.includes('error') || d.stderr) throw new Error(`healthy create/destroy failed: ${c.stderr}${d.stderr}`);
  return { wallMs, virtNs: host.sim.now - v0 };
}

/** Interleave rounds of both hosts so machine noise hits both alike. */
async function latency(n: number): Promise<{ base: number[]; stall: number[]; baseV: number; stallV: number }> {
  const stalled = await xenwatchStall.run({ seed: 1, backend: 'netback', xenwatch: 'mtwatch', stopAfter: 'stuck-thread' });
  const healthy = await xenwatchStall.run({ seed: 1, backend: 'netback', xenwatch: 'mtwatch', stopAfter: 'create' });
  if (!stalled.ok || !healthy.ok) throw new Error(`setup failed: ${[...stalled.failures, ...healthy.failures].join('; ')}`);
  for (const h of [stalled.host, healthy.host]) h.files.set('healthy.cfg', HEALTHY);
  const base: number[] = [];
  const stall: number[] = [];
  let baseV = 0;
  let stallV = 0;
  for (let i = 0; i < 20; i++) {
    cycle(healthy.host);
    cycle(stalled.host);
  }
  for (let i = 0; i < n; i++) {
    const a = cycle(healthy.host);
    const b = cycle(stalled.host);
    base.push(a.wallMs);
    stall.push(b.wallMs);
    baseV += a.virtNs;
    stallV += b.virtNs;
  }
  const k = stalled.host.kernel!;
  if (k.kthreads.list().find((t) => t.fullName === 'xen-mtwatch-1')?.state !== 'D') throw new Error('the stall did not hold during the run');
  return { base, stall, baseV: baseV / n, stallV: stallV / n };
}

/** In a child with --expose-gc: heap per domain with `n` live domains (each with a vif). */
function memoryChild(n: number): { perDomain: number; buffersPerDomain: number; nodes: number; threads: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const host = new Machine({ seed: 1, xenwatch: 'mtwatch' });
  for (let i = 0; i < n; i++) host.files.set(`d${i}.cfg`, `name = "d${i}"\nmemory = 4\nvif = [ "bridge=xenbr0" ]\n`);
  // Warm up code paths, then measure.
  host.xlSync('create d0.cfg');
  host.xlSync('destroy d0');
  host.sim.run({ until: host.sim.now + 1e9 });
  gc();
  gc();
  const m0 = process.memoryUsage();
  const before = m0.heapUsed;
  for (let i = 0; i < n; i++) {
    const r = host.xlSync(`create d${i}.cfg`);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  host.sim.run({ until: host.sim.now + 1e9 });
  gc();
  gc();
  const m1 = process.memoryUsage();
  const after = m1.heapUsed;
  return { perDomain: (after - before) / n, buffersPerDomain: (m1.arrayBuffers - m0.arrayBuffers) / n, nodes: host.xsd.store.nodes.size, threads: host.kernel!.kthreads.list().length };
}

if (process.env.XENODE_BENCH_DOM0_CHILD) {
  const n = Number(process.env.XENODE_BENCH_DOM0_CHILD);
  process.stdout.write(JSON.stringify(memoryChild(n)) + '\n');
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const n = opts.quick ? 30 : 200;
  const lat = await latency(n);
  const mb = median(lat.base);
  const ms = median(lat.stall);
  rows.push({
    group: 'dom0', name: 'create+destroy (1 vif), mtwatch, other domain stalled', value: ms, unit: 'ms/cycle',
    anchor: 'same host, no stall', anchorValue: mb, ratio: ms / mb, target: '<= 1.1x',
    note: `median of ${n} interleaved cycles (host wall clock); virtual time per cycle ${(lat.stallV / 1e6).toFixed(3)} ms stalled vs ${(lat.baseV / 1e6).toFixed(3)} ms healthy`,
  });
  rows.push({ group: 'dom0', name: 'create+destroy virtual time, stalled host', value: lat.stallV / 1e6, unit: 'ms virtual', anchor: 'no stall', anchorValue: lat.baseV / 1e6 });

  const count = opts.quick ? 200 : 1000;
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self], {
    env: { ...process.env, XENODE_BENCH_DOM0_CHILD: String(count) },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  try {
    const m = JSON.parse(line) as { perDomain: number; buffersPerDomain: number; nodes: number; threads: number };
    rows.push({
      group: 'dom0', name: `memory per domain at ${count} domains (1 vif each)`, value: m.perDomain / 1024, unit: 'KiB',
      note: `JS heap delta / ${count}: hypervisor records + xenstored (${m.nodes} nodes) + dom0 kernel (${m.threads} kthreads, mtwatch) + libxl; plus ${(m.buffersPerDomain / 1024).toFixed(1)} KiB/domain of ArrayBuffers (guest pages: shared_info, grant table, store ring, rings)`,
    });
  } catch {
    rows.push({ group: 'dom0', name: `memory per domain at ${count} domains`, value: NaN, unit: 'KiB', note: `child failed: ${child.stderr.slice(0, 300)}` });
  }
  return rows;
}
