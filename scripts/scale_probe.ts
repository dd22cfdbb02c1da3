// `node --expose-gc --import tsx scripts/scale_probe.ts [N] [xs|nf|both] [single|mtwatch] [PROFILE_AT,...]`:
// creates N kernels/xs.ts and/or N kernels/netfront.ts domains (interleaved)
// on one Machine and prints, every N/10 creates, the host ms per create, the
// RSS / JS heap / ArrayBuffer bytes per domain, and at each PROFILE_AT count a
// CPU profile of the next 50 creates (top self-time functions): what grows
// with the number of domains. Not a test, not a benchmark (bench/scale.ts is).
import { Session } from 'node:inspector/promises';
import { Machine } from '../src/machine/machine.ts';
import { scaleConfigs } from '../bench/scale_lib.ts';
import { macToString } from '../src/abi/net/addr.ts';

const N = Number(process.argv[2] ?? 500);
const mode = process.argv[3] ?? 'both';
const xw = (process.argv[4] ?? 'single') as 'single' | 'mtwatch';
const profileAt = new Set((process.argv[5] ?? '').split(',').filter(Boolean).map(Number));
const m = new Machine({ seed: 1, xenpvQemu: false, xenwatch: xw, preemptOneIn: Number(process.env.PREEMPT ?? 0) });
const kinds = mode === 'both' ? ['xs', 'nf'] as const : mode === 'xs' ? ['xs'] as const : ['nf'] as const;
const names: string[] = [];
for (let i = 0; i < N; i++) {
  for (const k of kinds) {
    const c = scaleConfigs(k, i, macToString(m.kernel!.inet.mac));
    m.files.set(`${c.name}.cfg`, c.text);
    names.push(c.name);
  }
}
await m.buildKernelFile('kernels/xs.ts');
await m.buildKernelFile('kernels/netfront.ts');
const gc = (globalThis as { gc?: () => void }).gc;
const mem = () => {
  gc?.();
  return process.memoryUsage();
};
const session = new Session();
session.connect();
await session.post('Profiler.enable');
const m0 = mem();
let t = performance.now();
const step = Math.max(1, Math.floor(names.length / 10));
let profiling = 0;
for (let i = 0; i < names.length; i++) {
  if (profileAt.has(i)) {
    await session.post('Profiler.start');
    profiling = i + 50;
  }
  const r = m.xlSync(`create ${names[i]}.cfg`);
  if (r.code !== 0) throw new Error(`create ${names[i]}: ${r.stderr}`);
  if (profiling === i + 1) {
    const { profile } = await session.post('Profiler.stop');
    const self = new Map<string, number>();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const fname = (id: number | undefined) => (id === undefined ? '-' : `${byId.get(id)!.callFrame.functionName || '(anon)'}@${byId.get(id)!.callFrame.url.replace(/^.*\//, '')}:${byId.get(id)!.callFrame.lineNumber + 1}`);
    const chains = new Map<string, number>();
    const dt = profile.timeDeltas ?? [];
    (profile.samples ?? []).forEach((id, j) => {
      const n = byId.get(id)!;
      const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + (dt[j] ?? 0));
      let p = parent.get(id);
      const chain = [fname(id)];
      for (let d = 0; d < 4 && p !== undefined; d++, p = parent.get(p)) chain.push(fname(p));
      const ck = chain.join(' < ');
      chains.set(ck, (chains.get(ck) ?? 0) + (dt[j] ?? 0));
    });
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    console.log(`profile of creates ${profiling - 50}..${profiling}: ${(total / 1e3 / 50).toFixed(2)} ms/create`);
    for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(us / 1e3 / 50).toFixed(3).padStart(8)} ms  ${k}`);
    for (const [k, us] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${(us / 1e3 / 50).toFixed(3).padStart(8)} ms  ${k}`);
    profiling = 0;
  }
  if ((i + 1) % step === 0) {
    const now = performance.now();
    const u = mem();
    const n = i + 1;
    console.log(`${n} domains: ${((now - t) / step).toFixed(2)} ms/create; rss ${((u.rss - m0.rss) / n / 1024).toFixed(0)} KiB/dom, heap ${((u.heapUsed - m0.heapUsed) / n / 1024).toFixed(0)} KiB/dom, ab ${((u.arrayBuffers - m0.arrayBuffers) / n / 1024).toFixed(0)} KiB/dom`);
    t = performance.now();
  }
}
t = performance.now();
const l = m.xlSync('list');
console.log(`xl list: ${(performance.now() - t).toFixed(0)} ms, ${l.stdout.split('\n').length - 2} domains`);
{
  const sim = m.sim as unknown as { runq: { name: string }[]; nq: number };
  const byName = new Map<string, number>();
  for (let i = 0; i < sim.nq; i++) {
    const k = sim.runq[i]!.name.replace(/\d+/g, 'N');
    byName.set(k, (byName.get(k) ?? 0) + 1);
  }
  console.log(`run queue: ${sim.nq} tasks: ${[...byName].map(([k, n]) => `${k} x${n}`).join(', ')}; timers ${m.sim.clock.pending}`);
}
