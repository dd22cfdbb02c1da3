// `node --import tsx scripts/scale_settle_probe.ts [N] [SETTLE_MS]`: N
// domains (half xs.ts, half netfront) created, then the wall time of each
// 10 ms of virtual time while they boot and send, and a CPU profile of it
// (NOPROF=1: no profile). EXTRA=k adds k empty node:vm contexts: V8's
// per-realm walks (Isolate::IsInAnyContext, the compiler's
// CollectArrayAndObjectPrototypes) see 10,000 realms without the 10,000
// domains. Not a test, not a benchmark (bench/scale.ts is).
import { Session } from 'node:inspector/promises';
import { Machine } from '../src/machine/machine.ts';
import { macToString } from '../src/abi/net/addr.ts';
import { scaleConfigs } from '../bench/scale_lib.ts';

const n = Number(process.argv[2] ?? 1000) / 2;
// EXTRA empty node:vm contexts stand for more domains' realms (V8's per-realm walks).
const keep: unknown[] = [];
const vmod = await import('node:vm');
for (let i = 0; i < Number(process.env.EXTRA ?? 0); i++) keep.push(vmod.createContext({}));
const settle = Number(process.argv[3] ?? 200) * 1e6;
const m = new Machine({ seed: 1, xenpvQemu: false, preemptOneIn: 0 });
const dst = macToString(m.kernel!.inet.mac);
await m.buildKernelFile('kernels/xs.ts');
await m.buildKernelFile('kernels/netfront.ts');
const tc = performance.now();
for (let i = 0; i < n; i++) for (const kind of ['xs', 'nf'] as const) {
  const c = scaleConfigs(kind, i, dst);
  m.files.set(`${c.name}.cfg`, c.text);
  if (m.xlSync(`create ${c.name}.cfg`).code !== 0) throw new Error(c.name);
}
console.log(`created ${2 * n} in ${((performance.now() - tc) / 1000).toFixed(1)} s`);
const s = new Session();
s.connect();
const prof = !process.env.NOPROF;
if (prof) {
  await s.post('Profiler.enable');
  await s.post('Profiler.start');
}
const ev0 = m.hv.evtchnSends, st0 = m.sim.steps, t0 = performance.now();
const end = m.sim.now + settle;
let last = performance.now();
while (m.sim.now < end) {
  m.sim.run({ until: Math.min(end, m.sim.now + 10e6) });
  const now = performance.now();
  console.log(`  virt ${((m.sim.now) / 1e6).toFixed(0)} ms: +${(now - last).toFixed(0)} ms wall, events ${m.hv.evtchnSends - ev0}, steps ${m.sim.steps - st0}`);
  last = now;
}
const wall = performance.now() - t0;
console.log(`${2 * n} domains: settle ${settle / 1e6} ms virtual in ${wall.toFixed(0)} ms, ${m.hv.evtchnSends - ev0} events, ${m.sim.steps - st0} sim steps`);
if (!prof) process.exit(0);
const { profile } = await s.post('Profiler.stop');
console.log(`${2 * n} domains: settle ${settle / 1e6} ms virtual in ${wall.toFixed(0)} ms, ${m.hv.evtchnSends - ev0} events, ${m.sim.steps - st0} sim steps`);
const byId = new Map(profile.nodes.map((x) => [x.id, x]));
const parent = new Map<number, number>();
for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const f = (id: number | undefined) => (id === undefined ? '-' : `${byId.get(id)!.callFrame.functionName || '(anon)'}@${byId.get(id)!.callFrame.url.replace(/^.*\//, '')}:${(byId.get(id)!.callFrame.lineNumber + 1)}`);
const self = new Map<string, number>();
(profile.samples ?? []).forEach((id, j) => {
  const chain = [f(id), f(parent.get(id)), f(parent.get(parent.get(id) ?? -1)), f(parent.get(parent.get(parent.get(id) ?? -1) ?? -1))].join(' < ');
  self.set(chain, (self.get(chain) ?? 0) + (profile.timeDeltas?.[j] ?? 0));
});
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(us / 1e3).toFixed(0).padStart(7)} ms  ${k}`);
