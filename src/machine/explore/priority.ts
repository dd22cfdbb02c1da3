// The one rule both priority strategies (pct, pos) apply at a decision: run
// the task with the highest priority, the current one unless a candidate beats
// it. Ties keep the earlier task, so the answer is a pure function of the
// priorities (a schedule replays).
import type { Task } from '../../sim/index.ts';

/** Index in `tasks[0..n)` of the highest priority above `floor`, or -1 if none is. */
export function highestAbove(tasks: readonly Task[], n: number, prio: (t: Task) => number, floor: number): number {
  let best = floor;
  let at = -1;
  for (let i = 0; i < n; i++) {
    const v = prio(tasks[i]!);
    if (v > best) {
      best = v;
      at = i;
    }
  }
  return at;
}
