// Run a coroutine as a sim thread to completion, in virtual time.
//
// The thread asks the simulator to stop as its last act, so the run returns
// at the virtual instant the command finished: Sim.runUntil checks its
// condition only between steps and would first advance the clock to the next
// timer (a guest's tick, a sleeping process) before noticing.

import { SimThread, type Co, type Sim } from '../../sim/index.ts';

export class ThreadStuck extends Error {}

export function runThread<T>(sim: Sim, co: () => Co<T>, opts: { pid?: number; name?: string; limitNs?: number } = {}): T {
  let result: T | undefined;
  let error: unknown;
  let finished = false;
  const t = new SimThread(sim, opts.pid ?? 1000, opts.name ?? 'xl', function* () {
    try {
      result = yield* co();
    } catch (e) {
      error = e;
    } finally {
      finished = true;
      sim.stop('thread done');
    }
  }, ['entry_SYSCALL_64']);
  const limit = opts.limitNs === undefined ? undefined : sim.now + opts.limitNs;
  while (!finished) {
    const r = sim.run(limit === undefined ? {} : { until: limit });
    if (finished) break;
    if (r.reason === 'stopped') continue;
    throw new ThreadStuck(`${t.name} did not finish: ${r.reason === 'hang' ? r.hang.summary : r.reason} at t=${sim.now}`);
  }
  if (error !== undefined) throw error;
  return result as T;
}
