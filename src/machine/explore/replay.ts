// Replaying a token (token.ts), shrinking a campaign's failure into one, and
// the uvu regression test `--emit-test DIR` writes for it.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTarget } from './registry.ts';
import { replay, type Replayed, type ScheduleResult, type Spec } from './schedule.ts';
import { renderSteps, shrink } from './shrink.ts';
import { encodeToken, fnv1aHex, type ReplayToken } from './token.ts';

export function replayToken(t: ReplayToken, record = true): Promise<Replayed> {
  return replay(findTarget(t.target), { variant: t.variant, workload: t.workload }, t.seed, t.load, t.choices, record);
}

export interface Shrunk {
  token: string;
  steps: string[];
  deviations: number;
  from: number;
  runs: number;
  /** 1-minimal (false: the run budget ran out first; the schedule is only smaller). */
  minimal: boolean;
}

/** Shrink a campaign's failing schedule to a 1-minimal token and its numbered steps. */
export async function shrinkToToken(spec: Spec, r: ScheduleResult, commit: string): Promise<Shrunk> {
  const target = findTarget(spec.target);
  const s = await shrink(target, { spec, seed: r.seed, ...(r.load !== undefined ? { load: r.load } : {}), deviations: r.deviations, signature: r.signature });
  const tok: ReplayToken = {
    v: 1,
    target: spec.target,
    variant: spec.variant,
    workload: spec.workload,
    strategy: spec.strategy,
    seed: r.seed,
    ...(r.load !== undefined ? { load: r.load } : {}),
    choices: s.deviations,
    signature: r.signature,
    commit,
  };
  return { token: encodeToken(tok), steps: renderSteps(s.final), deviations: s.deviations.length, from: s.from, runs: s.runs, minimal: s.minimal };
}

const SRC_EXPLORE = path.dirname(fileURLToPath(import.meta.url));

/** Writes DIR/explore-<name>.test.ts replaying `token` and asserting its signature; returns the path. */
export function emitTest(dir: string, t: ReplayToken, token: string, steps: readonly string[]): string {
  mkdirSync(dir, { recursive: true });
  const slug = `${path.basename(t.target, '.ts')}-${t.variant}-${t.workload}`.replace(/[^A-Za-z0-9]+/g, '-');
  const file = path.join(dir, `explore-${slug}-${fnv1aHex(token)}.test.ts`);
  let rel = path.relative(path.resolve(dir), path.join(SRC_EXPLORE, 'replay.ts')).split(path.sep).join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  let relTok = path.relative(path.resolve(dir), path.join(SRC_EXPLORE, 'token.ts')).split(path.sep).join('/');
  if (!relTok.startsWith('.')) relTok = `./${relTok}`;
  // The quotes come from a variable so that the import lines of the emitted
  // file are not read as this file's own imports (test/architecture).
  const q = "'";
  const text = `// Emitted by \`xenode explore\` (commit ${t.commit}): a shrunk, 1-minimal schedule of
// ${t.target} (variant ${t.variant}, workload ${t.workload}, found by ${t.strategy} at seed ${t.seed}).
// It replays the schedule and asserts the failure's signature. Once the bug is
// fixed, turn the assertion around (the schedule must then pass).
//
${steps.map((l) => `//   ${l}`).join('\n')}
import { suite } from ${q}uvu${q};
import * as assert from ${q}uvu/assert${q};
import { replayToken } from ${q}${rel}${q};
import { decodeToken } from ${q}${relTok}${q};

const TOKEN = ${JSON.stringify(token)};
const test = suite('explore regression: ${slug}');

test(${JSON.stringify(`replays to: ${t.signature}`)}, async () => {
  const r = await replayToken(decodeToken(TOKEN), false);
  assert.is(r.outcome.ok, false, r.outcome.summary);
  assert.is(r.outcome.signature, ${JSON.stringify(t.signature)});
});

test.run();
`;
  writeFileSync(file, text);
  return file;
}
