// Shrinking a failing schedule (delta debugging, Zeller & Hildebrandt 2002,
// over the schedule's deviations).
//
// A schedule is its list of deviations (control.ts): the decisions answered
// otherwise than "the current task goes on / the oldest ready task runs".
// ddmin tries each chunk alone, then removes chunks of them (halves, then
// quarters, ... down to single ones) and re-runs the target with what is
// left; a candidate is kept when
// the run still fails with the SAME signature (another failure is another
// bug). After each kept candidate the list is re-read from the run that
// replayed it: a deviation whose decision no longer exists, or whose answer
// is out of range there, has become a default answer and is gone.
//
// Before ddmin, two cheap steps that usually leave it nothing to do (a
// random schedule of missed-event carries ~100 deviations, and ddmin then
// the one-deviation search spent up to ~1,400 runs on one): the deviations
// after the failure are cut (a binary search for the shortest prefix that
// still fails: ~log2 n runs), then the one-deviation search (below) runs on
// the last two deviations of that prefix with a small budget (the bugs here
// are depth 1, and the deviation that ends the shortest failing prefix is
// the one the failure needed, at its own or a nearby occurrence).
//
// The result is 1-minimal: the last pass re-ran the target with each single
// remaining deviation removed, and every one of those runs passed (or failed
// differently). That is what "dropping any one remaining preemption makes the
// run pass" means here. When more than one is left, a last search
// (oneDeviation) looks for a single deviation that reproduces the failure on
// its own.
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
  /** False when the run budget ran out before ddmin's last pass: then the result is smaller, not 1-minimal. */
  minimal: boolean;
}

export interface ShrinkOptions {
  /** Bound on target runs (default 2,000). */
  maxRuns?: number;
  /** After ddmin, look for one deviation alone at another occurrence (default true; see oneDeviation). */
  oneDeviation?: boolean;
  /** Before ddmin, cut to the shortest failing prefix and try its last deviations alone (default true; see probe). */
  probe?: boolean;
}

export async function shrink(target: Target, input: ShrinkInput, opts: ShrinkOptions = {}): Promise<ShrinkResult> {
  const maxRuns = opts.maxRuns ?? 2000;
  const oneDev = opts.oneDeviation ?? true;
  // ddmin leaves the one-deviation search its runs: a long schedule (PCT's
  // preempt at every point after a change point: hundreds of deviations) can
  // spend all of them in ddmin, and the search is what makes those short.
  const ddminRuns = oneDev ? Math.max(maxRuns - MAX_ONE_RUNS, Math.floor(maxRuns / 2)) : maxRuns;
  let runs = 0;
  let minimal = false;
  const attempt = async (devs: readonly Deviation[]): Promise<Replayed | undefined> => {
    runs++;
    const r = await replay(target, input.spec, input.seed, input.load, devs, false);
    return !r.outcome.ok && r.outcome.signature === input.signature ? r : undefined;
  };
  // The default schedule, recorded: the one-deviation search's map of boundaries (the probe's and the last one's share it).
  let base: Replayed | undefined;
  const defaultRun = async (): Promise<Replayed> => {
    if (!base) {
      runs++;
      base = await replay(target, input.spec, input.seed, input.load, [], true);
    }
    return base;
  };
  const first = await attempt(input.deviations);
  if (!first) throw new Error(`shrink: the schedule does not fail with '${input.signature}' when replayed (nondeterminism?)`);
  let cur: Deviation[] = first.deviations.slice();
  if (opts.probe ?? true) {
    const best = await probe(input, cur, attempt, defaultRun, () => runs < ddminRuns);
    if (best) cur = best.deviations.slice();
  }
  let n = 2;
  for (;;) {
    if (cur.length === 0) {
      minimal = true;
      break;
    }
    if (runs >= ddminRuns) break;
    const size = Math.ceil(cur.length / n);
    let kept: Replayed | undefined;
    // Reduce to a subset: one chunk alone. Without this step ddmin only ever
    // removes, and a schedule whose deviations lean on each other (dropping
    // a nested run of dom0 work leaves the later deviations that name it
    // without their task, so the run passes) stays long although a few of
    // them alone reproduce the failure.
    if (n > 2 || cur.length === 2) {
      for (let start = 0; start < cur.length && runs < ddminRuns; start += size) {
        kept = await attempt(cur.slice(start, start + size));
        if (kept) break;
      }
      if (kept) {
        cur = kept.deviations.slice();
        n = 2;
        continue;
      }
    }
    // Reduce to a complement: all but one chunk.
    let complete = true;
    for (let start = 0; start < cur.length; start += size) {
      if (runs >= ddminRuns) {
        complete = false;
        break;
      }
      const cand = [...cur.slice(0, start), ...cur.slice(start + size)];
      kept = await attempt(cand);
      if (kept) break;
    }
    if (kept) {
      cur = kept.deviations.slice();
      n = Math.max(n - 1, 2);
      continue;
    }
    if (!complete) break;
    if (n >= cur.length) {
      // Every single deviation was removed in turn, and none of those runs failed so.
      minimal = true;
      break;
    }
    n = Math.min(n * 2, cur.length);
  }
  if (oneDev && cur.length > 1 && runs < maxRuns) {
    const one = await oneDeviation(input, cur, Math.min(maxRuns - runs, MAX_ONE_RUNS), attempt, defaultRun);
    if (one) {
      cur = one.deviations.slice();
      minimal = true;
    }
  }
  const final = await replay(target, input.spec, input.seed, input.load, cur, true);
  runs++;
  return { deviations: cur, final, runs, from: input.deviations.length, minimal };
}

/** The probe's one-deviation search: the shortest failing prefix's last deviations, and a bound on its runs. */
const PROBE_LAST = 2;
const PROBE_RUNS = 60;

/**
 * The shortest failing prefix of `cur` (binary search: a prefix is kept only
 * when its run failed with the signature, so the answer fails even where
 * failing is not monotone in the prefix length), then the one-deviation
 * search (below) over its last PROBE_LAST deviations, in at most PROBE_RUNS
 * runs. Returns the smallest failing run found, or undefined when no
 * candidate failed.
 */
async function probe(
  input: ShrinkInput,
  cur: readonly Deviation[],
  attempt: (devs: readonly Deviation[]) => Promise<Replayed | undefined>,
  defaultRun: () => Promise<Replayed>,
  budgetLeft: () => boolean,
): Promise<Replayed | undefined> {
  let best: Replayed | undefined;
  let lo = 0;
  let hi = cur.length;
  let prefix = cur;
  while (hi - lo > 1 && budgetLeft()) {
    const mid = (lo + hi) >> 1;
    const r = await attempt(cur.slice(0, mid));
    if (r) {
      hi = mid;
      best = r;
      prefix = cur.slice(0, mid);
    } else lo = mid;
  }
  if (prefix.length <= 1 || !budgetLeft()) return best;
  return (await oneDeviation(input, prefix.slice(-PROBE_LAST), PROBE_RUNS, attempt, defaultRun)) ?? best;
}

/** Bound on the runs of the one-deviation search (missed-event ping-flood: ~80 ms a run). */
const MAX_ONE_RUNS = 600;

/**
 * ddmin only removes deviations, and a deviation is named by its occurrence:
 * "the 3rd time d1v0 passes 'main: no events'". A long 1-minimal schedule is
 * often one whose earlier deviations only set up the state the last one
 * needs at that occurrence (dom0 work pending, on the right port), while
 * another occurrence of the same boundary finds that state under the default
 * schedule. So: the same boundary at each other occurrence of it in the
 * default run, alone, with the same task or another one ready there,
 * nearest occurrences first, last deviation first. A hit is a 1-deviation schedule with the same
 * signature, 1-minimal when the default schedule passes; when the default
 * schedule itself fails so, that (no deviation) is the answer.
 */
async function oneDeviation(
  input: ShrinkInput,
  cur: readonly Deviation[],
  budget: number,
  attempt: (devs: readonly Deviation[]) => Promise<Replayed | undefined>,
  defaultRun: () => Promise<Replayed>,
): Promise<Replayed | undefined> {
  const base = await defaultRun();
  if (!base.outcome.ok && base.outcome.signature === input.signature) return base;
  let runs = 1;
  // (boundary, who) -> per occurrence in the default run, who could have run instead.
  const seen = new Map<string, string[][]>();
  for (const d of base.decisions) {
    const k = `${d.label}\0${d.current}`;
    let l = seen.get(k);
    if (!l) seen.set(k, (l = []));
    l.push(d.others);
  }
  const tried = new Set<string>();
  const tryOne = async (dev: Deviation): Promise<Replayed | undefined | 'spent'> => {
    const key = JSON.stringify(dev);
    if (tried.has(key)) return undefined;
    tried.add(key);
    if (runs >= budget) return 'spent';
    runs++;
    return attempt([dev]);
  };
  // The deviation's own task first, then any other task that was ready
  // there in the default run: PCT's schedules often let xenwatch or xenbus
  // in at the window where the default schedule has dom0's upcall ready.
  for (let i = cur.length - 1; i >= 0; i--) {
    const [label, who, occ, chosen] = cur[i]!;
    const at = seen.get(`${label}\0${who}`) ?? [];
    const n = Math.max(at.length, occ + 1);
    const order = Array.from({ length: n }, (_, o) => o).sort((a, b) => Math.abs(a - occ) - Math.abs(b - occ) || a - b);
    for (const o of order) {
      for (const task of [chosen, ...(at[o] ?? []).filter((x) => x !== chosen)]) {
        const r = await tryOne([label, who, o, task]);
        if (r === 'spent') return undefined;
        if (r) return r;
      }
    }
  }
  return undefined;
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
