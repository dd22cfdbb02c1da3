import { Machine } from '../src/machine/machine.ts';
const N = Number(process.argv[2] ?? 500);
const mode = process.argv[3] ?? 'both';
const xw = (process.argv[4] ?? 'single') as 'single' | 'mtwatch';
const m = new Machine({ seed: 1, xenpvQemu: false, xenwatch: xw });
const mac = (i: number) => `00:16:3e:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
for (let i = 0; i < N; i++) {
  m.files.set(`x${i}.cfg`, `name = "x${i}"\nkernel = "kernels/xs.ts"\nmemory = 4\n`);
  m.files.set(`n${i}.cfg`, `name = "n${i}"\nkernel = "kernels/netfront.ts"\nmemory = 4\nvif = [ 'mac=${mac(i + 1)},bridge=xenbr0' ]\nextra = "tx=200 interval=1s"\n`);
}
await m.buildKernelFile('kernels/xs.ts'); await m.buildKernelFile('kernels/netfront.ts');
const gc = (globalThis as any).gc as (() => void) | undefined;
const mem = () => { gc?.(); const u = process.memoryUsage(); return u; };
const m0 = mem();
let t = performance.now(); let v = m.sim.now;
const kinds = mode === 'both' ? ['x', 'n'] : [mode];
let created = 0;
const step = Math.max(1, Math.floor(N / 10));
for (let i = 0; i < N; i++) {
  for (const k of kinds) {
    const r = m.xlSync(`create ${k}${i}.cfg`);
    if (r.code !== 0) { console.log(`create ${k}${i} failed: ${r.stderr}`); process.exit(1); }
    created++;
  }
  if ((i + 1) % step === 0) {
    const now = performance.now();
    const u = mem();
    console.log(`${created} domains: ${((now - t) / (step * kinds.length)).toFixed(2)} ms/create, virt ${((m.sim.now - v) / 1e6 / (step * kinds.length)).toFixed(2)} ms/create; rss ${((u.rss - m0.rss) / created / 1024).toFixed(0)} KiB/dom, heap ${((u.heapUsed - m0.heapUsed) / created / 1024).toFixed(0)} KiB/dom, ab ${((u.arrayBuffers - m0.arrayBuffers) / created / 1024).toFixed(0)} KiB/dom`);
    t = performance.now(); v = m.sim.now;
  }
}
t = performance.now();
const l = m.xlSync('list');
console.log(`xl list: ${(performance.now() - t).toFixed(0)} ms, ${l.stdout.split('\n').length} lines`);
