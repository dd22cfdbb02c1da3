// `node --expose-gc --import tsx scripts/lifecycle_cycles.ts [N] [SEED] [--detach vif|vbd]`:
// N (default 2,000) create/destroy cycles of a netfront domain on one Machine
// (test/support/lifecycle.ts), or with --detach N detach/attach cycles of a
// running netfront (vif) or blkfront (vbd) domain whose frontend reconnects
// each time (test/support/detach_attach.ts). Prints the counters after the
// first cycle and after every N/4, the time per cycle, and the heap after a
// GC when run with --expose-gc. Exits 1 when a counter that must come back
// does not.
import { HOST_COUNTERS, machineCounters } from '../src/machine/counters.ts';
import { cycle, lifecycleMachine } from '../test/support/lifecycle.ts';
import { DETACH_EXACT, detachAttachCycle, detachCounters, detachMachine, type Kind } from '../test/support/detach_attach.ts';

const args = process.argv.slice(2);
const di = args.indexOf('--detach');
const kind = di >= 0 ? (args.splice(di, 2)[1] as Kind) : undefined;
if (kind !== undefined && kind !== 'vif' && kind !== 'vbd') throw new Error('--detach takes vif or vbd');
const n = Number(args[0] ?? 2000);
const seed = Number(args[1] ?? 1);
const gc = (globalThis as { gc?: () => void }).gc;
const heapMB = () => {
  gc?.();
  return (process.memoryUsage().heapUsed / 2 ** 20).toFixed(1);
};
const m = kind ? await detachMachine(kind, seed) : await lifecycleMachine(seed);
const step = kind ? () => detachAttachCycle(m, kind) : () => cycle(m);
const read = (): Record<string, number> => ({ ...(kind ? detachCounters(m) : machineCounters(m)) });
const exact: readonly string[] = kind ? DETACH_EXACT : HOST_COUNTERS;
if (kind) step();
const start = read();
console.log(`${kind ? `detach/attach (${kind})` : 'create/destroy'}: after 1 cycle: ${JSON.stringify(start)} heap ${heapMB()} MB${gc ? '' : ' (no --expose-gc)'}`);
const t0 = performance.now();
for (let i = 1; i <= n; i++) {
  step();
  if (i % Math.max(1, Math.floor(n / 4)) === 0) console.log(`after ${i + 1} cycles: ${JSON.stringify(read())} heap ${heapMB()} MB`);
}
const ms = performance.now() - t0;
const end = read();
const moved = exact.filter((k) => end[k] !== start[k]);
console.log(`${n} cycles in ${(ms / 1000).toFixed(1)} s (${(ms / n).toFixed(1)} ms a cycle); ${moved.length ? `MOVED: ${moved.map((k) => `${k} ${start[k]} -> ${end[k]}`).join(', ')}` : 'every counter back to its value after the first cycle'}`);
process.exitCode = moved.length ? 1 : 0;
