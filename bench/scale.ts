// The scale group (issue 13): N kernels/xs.ts domains (idle xenstore
// clients) and N kernels/netfront.ts domains (one vif each, a unicast frame to
// dom0's xenbr0 every SCALE_TX_INTERVAL, and one frame back from dom0 to each
// of them as often: traffic linear in N, nothing flooded) on one Machine.
// Printed: host ms per `xl create` at the 1st/100th/1,000th/10,000th domain
// (median of the 21 creates around it), RSS / JS heap / ArrayBuffer bytes per
// domain, events/s across the host while they all run, `xl list` of all of
// them, and destroy-all with every counter back at its start value.
// N = 1,000 domains (500 of each kind), 10,000 with --full; XENODE_SCALE_N=n
// sets it (n domains, n/2 of each kind).
// The run happens in a child process (--expose-gc, a large old space) so its
// heap is its own.
//
// The host runs without random preemption (preemptOneIn: 0, as the guest
// group's ping-pong): the default scheduler's choice points look at the whole
// run queue, and with thousands of runnable vCPUs that scan is what a
// schedule explorer pays for, not what a create costs.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchRow } from './lib.ts';
import { median } from './lib.ts';
import { Machine } from '../src/machine/machine.ts';
import { macToString, parseMac, writeMac } from '../src/abi/net/addr.ts';
import { scaleConfigs, scaleCounters, scaleMac, SCALE_TX_INTERVAL_NS, type ScaleCounters } from './scale_lib.ts';

export interface ScaleResult {
  n: number;
  /** Host wall-clock ms and process CPU ms (user + system, GC threads included) per create, around each mark. */
  createMs: { at: number; ms: number; cpuMs: number }[];
  rssPerDomain: number;
  heapPerDomain: number;
  buffersPerDomain: number;
  eventsPerSec: number;
  framesToDom0: number;
  framesFromDom0: number;
  netbackDrops: number;
  listMs: number;
  /** Process CPU ms of the same `xl list` (wall-clock is the machine's load on a shared host). */
  listCpuMs: number;
  listRows: number;
  destroyMs: number;
  start: ScaleCounters;
  running: ScaleCounters;
  end: ScaleCounters;
  heapDeltaAfter: number;
  /** Empty /local/domain/0/backend/vif/<domid> parents left by destroy (the leak test/machine/lifecycle.test.ts names). */
  vifParentsLeft: number;
}

/** `n` domains of each kind. */
async function child(n: number): Promise<ScaleResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const mem = () => {
    gc();
    gc();
    return process.memoryUsage();
  };
  const m = new Machine({ seed: 1, xenpvQemu: false, preemptOneIn: 0 });
  const k = m.kernel!;
  const dst = macToString(k.inet.mac);
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    for (const kind of ['xs', 'nf'] as const) {
      const c = scaleConfigs(kind, i, dst);
      m.files.set(`${c.name}.cfg`, c.text);
      names.push(c.name);
    }
  }
  await m.buildKernelFile('kernels/xs.ts');
  await m.buildKernelFile('kernels/netfront.ts');
  // Warm up the create and destroy paths once per kind, then take the start counters.
  for (const c of [scaleConfigs('xs', n, dst), scaleConfigs('nf', n, dst)]) {
    m.files.set(`${c.name}.cfg`, c.text);
    if (m.xlSync(`create ${c.name}.cfg`).code !== 0) throw new Error(`warm-up create ${c.name}`);
    m.sim.run({ until: m.sim.now + 50e6 });
    if (m.xlSync(`destroy ${c.name}`).code !== 0) throw new Error(`warm-up destroy ${c.name}`);
    m.sim.run({ until: m.sim.now + 10e6 });
  }
  const start = scaleCounters(m);
  const vifParents = () => m.xsd.store.get('/local/domain/0/backend/vif')?.children.length ?? 0;
  const vifParents0 = vifParents();
  const m0 = mem();
  const times: number[] = [];
  const cpu: number[] = [];
  const tc = performance.now();
  const every = Math.max(1, Math.floor(names.length / 20));
  for (const name of names) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = m.xlSync(`create ${name}.cfg`);
    times.push(performance.now() - t0);
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    if (r.code !== 0) throw new Error(`create ${name} (#${times.length}): ${r.stderr}`);
    if (times.length % every === 0) {
      const u = process.memoryUsage();
      process.stderr.write(`scale: ${times.length} created, median of the last ${every} ${median(times.slice(-every)).toFixed(1)} ms (cpu ${median(cpu.slice(-every)).toFixed(1)} ms), ${((performance.now() - tc) / 1000).toFixed(0)} s, rss ${(u.rss / 2 ** 30).toFixed(2)} GiB, heap ${(u.heapUsed / 2 ** 30).toFixed(2)} GiB, ab ${(u.arrayBuffers / 2 ** 30).toFixed(2)} GiB\n`);
    }
  }
  // Let every guest boot and the netfronts connect (virtual time).
  m.sim.run({ until: m.sim.now + 200e6 });
  const m1 = mem();
  const total = names.length;
  const createMs = [1, 100, 1000, 10000].filter((at) => at <= total).map((at) => ({
    at,
    ms: at === 1 ? times[0]! : median(times.slice(Math.max(0, at - 11), Math.min(total, at + 10))),
    cpuMs: at === 1 ? cpu[0]! : median(cpu.slice(Math.max(0, at - 11), Math.min(total, at + 10))),
  }));

  // dom0 → each netfront: one unicast frame per interval, spread over it (an AF_PACKET sender in dom0).
  const macs = Array.from({ length: n }, (_, i) => parseMac(scaleMac(i))!);
  let sent = 0;
  const gap = SCALE_TX_INTERVAL_NS / n;
  const sendOne = () => {
    const f = new Uint8Array(60);
    writeMac(f, 0, macs[sent % n]!);
    writeMac(f, 6, k.inet.mac);
    f[12] = 0x88;
    f[13] = 0xb5; // IEEE 802 local experimental ethertype: the guest only counts it
    k.inet.packetSend(f);
    sent++;
  };
  let running = true;
  const tick = () => {
    if (!running) return;
    sendOne();
    m.sim.clock.after(gap, tick, 'scale: dom0 sender');
  };
  tick();
  const nb0 = netbackTotals(m);
  const ev0 = m.hv.evtchnSends;
  const rx0 = k.inet.stats.rx_packets + k.inet.stats.rx_dropped;
  const runNs = 2 * SCALE_TX_INTERVAL_NS;
  const tr0 = performance.now();
  m.sim.run({ until: m.sim.now + runNs });
  const runWall = (performance.now() - tr0) / 1000;
  running = false;
  const eventsPerSec = (m.hv.evtchnSends - ev0) / runWall;
  const nb1 = netbackTotals(m);
  const framesToDom0 = k.inet.stats.rx_packets + k.inet.stats.rx_dropped - rx0;
  const runningCounters = scaleCounters(m);

  const tl = performance.now();
  const cl = process.cpuUsage();
  const list = m.xlSync('list');
  const listMs = performance.now() - tl;
  const lc = process.cpuUsage(cl);
  const listCpuMs = (lc.user + lc.system) / 1000;
  const listRows = list.stdout.trim().split('\n').length - 1;

  process.stderr.write(`scale: traffic ${runWall.toFixed(1)} s, xl list ${listMs.toFixed(0)} ms (cpu ${listCpuMs.toFixed(0)} ms); destroying\n`);
  const td = performance.now();
  for (const name of names) {
    const r = m.xlSync(`destroy ${name}`);
    if (r.code !== 0) throw new Error(`destroy ${name}: ${r.stderr}`);
  }
  const destroyMs = (performance.now() - td) / total;
  m.sim.run({ until: m.sim.now + 100e6 });
  const end = scaleCounters(m);
  const m2 = mem();
  return {
    n: total, createMs,
    rssPerDomain: (m1.rss - m0.rss) / total,
    heapPerDomain: (m1.heapUsed - m0.heapUsed) / total,
    buffersPerDomain: (m1.arrayBuffers - m0.arrayBuffers) / total,
    eventsPerSec, framesToDom0, framesFromDom0: nb1.rx - nb0.rx, netbackDrops: nb1.drops - nb0.drops,
    listMs, listCpuMs, listRows, destroyMs, start, running: runningCounters, end,
    heapDeltaAfter: m2.heapUsed - m0.heapUsed,
    vifParentsLeft: vifParents() - vifParents0,
  };
}

/** Frames netback delivered to guests, and frames it dropped (guest-rx queue full), over every vif. */
function netbackTotals(m: Machine): { rx: number; drops: number } {
  let rx = 0;
  let drops = 0;
  for (const v of m.kernel!.netback.vifs.values()) {
    rx += v.stats.rx_packets;
    drops += v.stats.tx_dropped;
  }
  return { rx, drops };
}

if (process.env.XENODE_BENCH_SCALE_CHILD) {
  const r = await child(Number(process.env.XENODE_BENCH_SCALE_CHILD));
  process.stdout.write(JSON.stringify(r) + '\n');
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const total = Number(process.env.XENODE_SCALE_N ?? (opts.full ? 10000 : 1000));
  if (!(Number.isInteger(total) && total >= 2 && total % 2 === 0)) throw new Error(`XENODE_SCALE_N must be an even integer >= 2, got ${process.env.XENODE_SCALE_N}`);
  const n = total / 2;
  const self = fileURLToPath(import.meta.url);
  const c = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=20000', '--import', 'tsx', self], {
    env: { ...process.env, XENODE_BENCH_SCALE_CHILD: String(n) },
    encoding: 'utf8',
    maxBuffer: 1 << 22,
    // The child's progress lines and any failure go straight to our stderr.
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = c.stdout.trim().split('\n').at(-1) ?? '';
  let r: ScaleResult;
  try {
    r = JSON.parse(line) as ScaleResult;
  } catch {
    return [{ group: 'scale', name: `${2 * n} domains`, value: NaN, unit: '', note: `child failed (status ${c.status}, signal ${c.signal}): see stderr` }];
  }
  const rows: BenchRow[] = [];
  const at100 = r.createMs.find((x) => x.at === 100)?.ms;
  const cpu100 = r.createMs.find((x) => x.at === 100)?.cpuMs;
  for (const x of r.createMs) {
    rows.push({
      group: 'scale', name: `xl create CPU ms at domain #${x.at} of ${r.n}`, value: x.cpuMs, unit: 'ms cpu',
      ...(x.at > 100 && cpu100 !== undefined ? { anchor: '#100', anchorValue: cpu100, ratio: x.cpuMs / cpu100, target: '<= 1.5x' } : {}),
      note: 'process CPU time (user + system, GC threads included) around the create: the figure that holds on a shared machine',
    });
    rows.push({
      group: 'scale', name: `xl create ms at domain #${x.at} of ${r.n}`, value: x.ms, unit: 'ms',
      ...(x.at > 100 && at100 !== undefined ? { anchor: '#100', anchorValue: at100, ratio: x.ms / at100, target: '<= 1.5x' } : {}),
    });
  }
  const KiB = 1024;
  rows.push({ group: 'scale', name: `RSS per domain (${r.n} running)`, value: r.rssPerDomain / KiB, unit: 'KiB', target: '<= 1024 KiB', note: `JS heap ${(r.heapPerDomain / KiB).toFixed(0)} KiB + ArrayBuffers ${(r.buffersPerDomain / KiB).toFixed(0)} KiB per domain (half xs.ts, half netfront.ts with a vif)` });
  rows.push({ group: 'scale', name: 'JS heap per domain', value: r.heapPerDomain / KiB, unit: 'KiB' });
  rows.push({ group: 'scale', name: 'ArrayBuffers per domain', value: r.buffersPerDomain / KiB, unit: 'KiB' });
  rows.push({ group: 'scale', name: `events/s across the host (${r.n} running)`, value: r.eventsPerSec, unit: 'events/s', note: `${r.framesToDom0} frames to dom0 and ${r.framesFromDom0} from dom0 to guests in ${(2 * SCALE_TX_INTERVAL_NS / 1e6).toFixed(0)} ms of virtual time; ${r.netbackDrops} guest-rx drops` });
  rows.push({ group: 'scale', name: `xl list of ${r.listRows} domains`, value: r.listMs, unit: 'ms', target: '< 1000 ms', note: `${r.listCpuMs.toFixed(1)} ms of process CPU time` });
  rows.push({ group: 'scale', name: 'xl destroy, mean over all', value: r.destroyMs, unit: 'ms' });
  // The vif parents' leak is issue 11's (libxl backend-dir cleanup): counted apart, not hidden.
  const end = { ...r.end, xenstoreNodes: r.end.xenstoreNodes - r.vifParentsLeft };
  const moved = (Object.keys(r.start) as (keyof ScaleCounters)[]).filter((key) => end[key] !== r.start[key]);
  rows.push({
    group: 'scale', name: 'counters moved after destroy-all (besides the vif parents)', value: moved.length, unit: 'counters', target: '0',
    note: `${moved.length ? `moved: ${moved.join(', ')}; ` : ''}xenstore nodes +${r.vifParentsLeft}: exactly the empty /local/domain/0/backend/vif/<domid> parents (one per vif domain; issue 11's backend-dir cleanup); start ${JSON.stringify(r.start)}; running ${JSON.stringify(r.running)}; end ${JSON.stringify(r.end)}; heap after destroy-all ${(r.heapDeltaAfter / 2 ** 20).toFixed(1)} MiB above the start`,
  });
  return rows;
}
