// `node --import tsx scripts/scale_traffic_probe.ts [N]`: N domains (half
// xs.ts, half netfront) running, then a CPU profile of 100 ms of virtual time
// (top self-time functions with their callers): what the running phase costs
// per event as N grows. Not a test, not a benchmark.
import { Session } from 'node:inspector/promises';
import { Machine } from '../src/machine/machine.ts';
import { macToString } from '../src/abi/net/addr.ts';
import { scaleConfigs } from '../bench/scale_lib.ts';

const n = Number(process.argv[2] ?? 1000) / 2;
const m = new Machine({ seed: 1, xenpvQemu: false, preemptOneIn: 0 });
const dst = macToString(m.kernel!.inet.mac);
await m.buildKernelFile('kernels/xs.ts');
await m.buildKernelFile('kernels/netfront.ts');
for (let i = 0; i < n; i++) for (const kind of ['xs', 'nf'] as const) {
  const c = scaleConfigs(kind, i, dst);
  m.files.set(`${c.name}.cfg`, c.text);
  if (m.xlSync(`create ${c.name}.cfg`).code !== 0) throw new Error(c.name);
}
m.sim.run({ until: m.sim.now + 200e6 });
const s = new Session();
s.connect();
await s.post('Profiler.enable');
await s.post('Profiler.start');
const ev0 = m.hv.evtchnSends, st0 = m.sim.steps, t0 = performance.now();
m.sim.run({ until: m.sim.now + 100e6 });
const wall = performance.now() - t0;
const { profile } = await s.post('Profiler.stop');
console.log(`${2 * n} domains: 100 ms virtual in ${wall.toFixed(0)} ms, ${m.hv.evtchnSends - ev0} events, ${m.sim.steps - st0} sim steps`);
const byId = new Map(profile.nodes.map((x) => [x.id, x]));
const parent = new Map<number, number>();
for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const f = (id: number | undefined) => (id === undefined ? '-' : `${byId.get(id)!.callFrame.functionName || '(anon)'}@${byId.get(id)!.callFrame.url.replace(/^.*\//, '')}`);
const self = new Map<string, number>();
(profile.samples ?? []).forEach((id, j) => {
  const chain = [f(id), f(parent.get(id)), f(parent.get(parent.get(id) ?? -1))].join(' < ');
  self.set(chain, (self.get(chain) ?? 0) + (profile.timeDeltas?.[j] ?? 0));
});
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${(us / 1e3).toFixed(0).padStart(7)} ms  ${k}`);
