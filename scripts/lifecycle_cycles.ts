// `node --import tsx scripts/lifecycle_cycles.ts [N] [SEED]`: N (default
// 2,000) create/destroy cycles of a netfront domain on one Machine (see
// test/support/lifecycle.ts), printing the counters after the first cycle and
// after every N/4, the time per cycle, and the heap after a GC when run with
// --expose-gc. Exits 1 when a counter that must come back does not.
import { counters, cycle, lifecycleMachine, type Counters } from '../test/support/lifecycle.ts';

const n = Number(process.argv[2] ?? 2000);
const seed = Number(process.argv[3] ?? 1);
const gc = (globalThis as { gc?: () => void }).gc;
const heapMB = () => {
  gc?.();
  return (process.memoryUsage().heapUsed / 2 ** 20).toFixed(1);
};
const EXACT: (keyof Counters)[] = ['domains', 'dom0Ports', 'dom0GrantsMapped', 'xenstoreNodes', 'xenstoreWatches', 'xenstoreConnections', 'kthreads', 'bridgePorts', 'timers'];
const m = await lifecycleMachine(seed);
const start = counters(m);
console.log(`after 1 cycle: ${JSON.stringify(start)} heap ${heapMB()} MB${gc ? '' : ' (no --expose-gc)'}`);
const t0 = performance.now();
for (let i = 1; i <= n; i++) {
  cycle(m);
  if (i % Math.max(1, Math.floor(n / 4)) === 0) console.log(`after ${i + 1} cycles: ${JSON.stringify(counters(m))} heap ${heapMB()} MB`);
}
const ms = performance.now() - t0;
const end = counters(m);
const moved = EXACT.filter((k) => end[k] !== start[k]);
console.log(`${n} cycles in ${(ms / 1000).toFixed(1)} s (${(ms / n).toFixed(1)} ms a cycle); ${moved.length ? `MOVED: ${moved.map((k) => `${k} ${start[k]} -> ${end[k]}`).join(', ')}` : 'every counter back to its value after the first cycle'}`);
process.exitCode = moved.length ? 1 : 0;
