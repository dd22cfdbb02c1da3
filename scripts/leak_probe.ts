import { Machine } from '../src/machine/machine.ts';
const gc = (globalThis as { gc?: () => void }).gc!;
const m = new Machine({ seed: 1, xenpvQemu: false, preemptOneIn: 0 });
for (let i = 0; i < 60; i++) m.files.set(`x${i}.cfg`, process.env.NF ? `name = "x${i}"\nkernel = "kernels/netfront.ts"\nmemory = 4\nvif = [ "mac=00:16:3e:00:01:${(i+16).toString(16)},bridge=xenbr0" ]\nextra = "tx=200 interval=100ms"\n` : `name = "x${i}"\nkernel = "kernels/xs.ts"\nmemory = 4\n`);
await m.buildKernelFile("kernels/xs.ts"); await m.buildKernelFile("kernels/netfront.ts");
m.xlSync('create x59.cfg'); m.sim.run({ until: m.sim.now + 50e6 }); m.xlSync('destroy x59'); m.sim.run({ until: m.sim.now + 50e6 });
gc(); gc();
const h0 = process.memoryUsage().heapUsed;
for (let i = 0; i < 50; i++) m.xlSync(`create x${i}.cfg`);
m.sim.run({ until: m.sim.now + 50e6 });
for (let i = 0; i < 50; i++) m.xlSync(`destroy x${i}`);
m.sim.run({ until: m.sim.now + 50e6 });
gc(); gc();
console.log('leak per domain KiB', ((process.memoryUsage().heapUsed - h0) / 50 / 1024).toFixed(0), 'doms', m.hv.domains().length);
if (process.argv[2]) { const v8 = await import('node:v8'); console.log(v8.writeHeapSnapshot('/tmp/scale/leak.heapsnapshot')); }
