// `node --import tsx scripts/scale_ctx_probe.ts [CONTEXTS] [CREATES]`: CONTEXTS
// empty node:vm contexts (what 10,000 domains' realms are to V8's list of
// native contexts), then a CPU profile of CREATES `xl create`s (half xs.ts,
// half netfront): the self time per function and source line. V8 walks
// every native context on some property stores and element loads
// (Isolate::IsInAnyContext): that time lands on the JS line that made them.
import vm from 'node:vm';
import { Session } from 'node:inspector/promises';
import { Machine } from '../src/machine/machine.ts';
import { macToString } from '../src/abi/net/addr.ts';
import { scaleConfigs } from '../bench/scale_lib.ts';

const contexts = Number(process.argv[2] ?? 4000);
const creates = Number(process.argv[3] ?? 40);
const keep: vm.Context[] = [];
for (let i = 0; i < contexts; i++) keep.push(vm.createContext({}));
const m = new Machine({ seed: 1, xenpvQemu: false, preemptOneIn: 0 });
const dst = macToString(m.kernel!.inet.mac);
await m.buildKernelFile('kernels/xs.ts');
await m.buildKernelFile('kernels/netfront.ts');
const create = (i: number) => {
  const c = scaleConfigs(i % 2 ? 'nf' : 'xs', i, dst);
  m.files.set(`${c.name}.cfg`, c.text);
  if (m.xlSync(`create ${c.name}.cfg`).code !== 0) throw new Error(c.name);
};
const warm = Number(process.env.WARM ?? 20);
for (let i = 0; i < warm; i++) create(i);
console.log('--- measured creates ---');
const s = new Session();
s.connect();
const profiling = !process.env.NOPROF;
if (profiling) {
  await s.post('Profiler.enable');
  await s.post('Profiler.start');
}
const c0 = process.cpuUsage();
for (let i = warm; i < warm + creates; i++) create(i);
const c1 = process.cpuUsage(c0);
console.log(`${contexts} extra contexts: ${((c1.user + c1.system) / 1000 / creates).toFixed(2)} ms CPU per create${profiling ? ' (profiled)' : ''}`);
if (!profiling) process.exit(0);
const { profile } = await s.post('Profiler.stop');
const self = new Map<string, number>();
const dt = profile.timeDeltas ?? [];
const byId = new Map(profile.nodes.map((x) => [x.id, x]));
(profile.samples ?? []).forEach((id, j) => {
  const n = byId.get(id)!;
  const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\//, '')}`;
  self.set(k, (self.get(k) ?? 0) + (dt[j] ?? 0));
});
for (const n of profile.nodes) {
  for (const t of n.positionTicks ?? []) {
    const k = `  line ${n.callFrame.url.replace(/^.*\//, '')}:${t.line} (${n.callFrame.functionName || '(anon)'})`;
    self.set(k, (self.get(k) ?? 0) + t.ticks * (profile.samplingInterval ?? 0) ?? 0);
  }
}
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${(us / 1e3 / creates).toFixed(3).padStart(8)} ms/create  ${k}`);
