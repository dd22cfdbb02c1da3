// A campaign worker thread: runs its share of the schedules and posts each
// result (see campaign.ts). Each worker makes its own target (kernel bundles
// and realms are per thread).
import { parentPort, workerData } from 'node:worker_threads';
import { runChecked } from './campaign.ts';
import { findTarget } from './registry.ts';
import type { Spec } from './schedule.ts';

const { spec, seed, indices, check } = workerData as { spec: Spec; seed: number; indices: number[]; check: boolean };
const target = findTarget(spec.target);
for (const i of indices) {
  const m = await runChecked(target, spec, i, seed + i, check);
  // Passing schedules do not need their deviations on the main thread.
  if (m.r.ok) m.r.deviations = [];
  parentPort!.postMessage(m);
}
