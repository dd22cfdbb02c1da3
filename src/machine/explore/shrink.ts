// Shrinking a failing schedule (delta debugging, Zeller & Hildebrandt 2002,
// over the schedule's deviations).
//
// A schedule is its list of deviations (control.ts): the decisions answered
// otherwise than "the current task goes on / the oldest ready task runs".
// ddmin removes chunks of them (halves, then quarters, ... down to single
// ones) and re-runs the target with what is left; a candidate is kept when
// the run still fails with the SAME signature (another failure is another
// bug). After each kept candidate the list is re-read from the run that
// replayed it: a deviation whose decision no longer exists, or whose answer
// is out of range there, has become a default answer and is gone.
//
// The result is 1-minimal: the last pass re-ran the target with each single
// remaining deviation removed, and every one of those runs passed (or failed
// differently). That is what "dropping any one remaining preemption makes the
// run pass" means here.
import type { Decision, Deviation } from './control.ts';
import { replay, type Replayed, type Spec } from './schedule.ts';
import type { Target } from './target.ts';

export interface ShrinkInput {
  spec: Pick<Spec, 'variant' | 'workload'>;
  seed: number;
  load?: number;
  deviations: readonly Deviation[];
  signature: string;
}

export interface ShrinkResult {
  deviations: Deviation[];
  /** The replay of the shrunk schedule (decisions recorded). */
  final: Replayed;
  /** Target runs spent. */
  runs: number;
  /** Deviations before. */
  from: number;
}

export async function shrink(target: Target, input: ShrinkInput, maxRuns = 2000): Promise<ShrinkResult> {
  let runs = 0;
  const attempt = async (devs: readonly Deviation[]): Promise<Replayed | undefined> => {
    runs++;
    const r = await replay(target, input.spec, input.seed, input.load, devs, false);
    return !r.outcome.ok && r.outcome.signature === input.signature ? r : undefined;
  };
  const first = await attempt(input.deviations);
  if (!first) throw new Error(`shrink: the schedule does not fail with '${input.signature}' when replayed (nondeterminism?)`);
  let cur: Deviation[] = first.deviations.slice();
  let n = 2;
  while (cur.length > 0 && runs < maxRuns) {
    const size = Math.ceil(cur.length / n);
    let kept: Replayed | undefined;
    for (let start = 0; start < cur.length && runs < maxRuns; start += size) {
      const cand = [...cur.slice(0, start), ...cur.slice(start + size)];
      kept = await attempt(cand);
      if (kept) break;
    }
    if (kept) {
      cur = kept.deviations.slice();
      n = Math.max(n - 1, 2);
      continue;
    }
    if (n >= cur.length) break;
    n = Math.min(n * 2, cur.length);
  }
  const final = await replay(target, input.spec, input.seed, input.load, cur, true);
  runs++;
  return { deviations: cur, final, runs, from: input.deviations.length };
}

/** Default decisions shown around each deviation (the instruction boundaries the guest passed). */
const CONTEXT = 3;

function describe(d: Decision, i: number): string {
  if (d.kind === 'pick') return d.answer === 0 ? `#${i} top level: ${d.chosen} runs` : `#${i} top level: run ${d.chosen} (ready #${d.answer} of ${d.n}) instead of the oldest ready task`;
  return d.answer === 0 ? `#${i} ${d.current} passes '${d.label}'` : `#${i} at '${d.label}' in ${d.current}: preempt, run ${d.chosen} now (candidate ${d.answer} of ${d.n - 1})`;
}

/**
 * The shrunk interleaving as numbered steps: each deviation with the choice
 * point it was taken at, who was running and who ran instead, between a few
 * of the default decisions before and after it (unnumbered), and how many
 * default decisions were skipped in between.
 */
export function renderSteps(r: Replayed): string[] {
  const out: string[] = [];
  const show = new Set<number>();
  r.decisions.forEach((d, i) => {
    if (d.answer !== 0) for (let j = i - CONTEXT; j <= i + CONTEXT; j++) if (j >= 0 && j < r.decisions.length) show.add(j);
  });
  let last = -1;
  let k = 0;
  for (const i of [...show].sort((a, b) => a - b)) {
    const d = r.decisions[i]!;
    const gap = i - last - 1;
    if (gap > 0) out.push(`     (${gap} decision${gap === 1 ? '' : 's'} as by default)`);
    out.push(d.answer !== 0 ? `${String(++k).padStart(3)}. ${describe(d, i)}` : `     · ${describe(d, i)}`);
    last = i;
  }
  const tail = r.steps - last - 1;
  out.push(`     ${tail > 0 ? `(${tail} more decision${tail === 1 ? '' : 's'} as by default) ` : ''}=> ${r.outcome.ok ? 'passes' : r.outcome.summary}`);
  // What those decisions did to the guest, when the target can say (the
  // missed-event explanation: the same numbered steps `xenode scenario` prints).
  if (r.outcome.explanation) out.push(...r.outcome.explanation.map((l) => `     ${l}`));
  return out;
}
