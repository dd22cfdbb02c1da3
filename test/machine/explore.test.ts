// xenode explore (src/machine/explore/): strategies find the historical
// runtime bugs on kernels/ring.ts, a failing schedule shrinks to a 1-minimal
// list of deviations, tokens round-trip, runs are deterministic, shards merge.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runScenario } from '../../src/machine/run_kernel.ts';
import { measureExpectedSteps, mergeReports, runCampaign, runChecked, shardIndices } from '../../src/machine/explore/campaign.ts';
import { findTarget } from '../../src/machine/explore/registry.ts';
import { emitTest, replayToken } from '../../src/machine/explore/replay.ts';
import { replay, runSchedule, type Spec } from '../../src/machine/explore/schedule.ts';
import { renderSteps, shrink } from '../../src/machine/explore/shrink.ts';
import { decodeToken, encodeToken, type ReplayToken } from '../../src/machine/explore/token.ts';

const RING = 'kernels/ring.ts';
const HLT = 'block=hlt-without-cli';
const LOST = 'hang lost-interrupt d1v0 ports 4';
const ring = findTarget(RING);
const spec = (variant: string, strategy: Spec['strategy'], params: Spec['params'] = {}): Spec => ({ target: RING, variant, workload: 'default', strategy, params });

const E = suite('xenode explore');

E('random schedule S is `xenode run --seed S` (same decisions as the default scheduler)', async () => {
  for (const seed of [1, 17]) {
    const a = await runSchedule(ring, spec(HLT, 'random'), 0, seed);
    const b = await runScenario({ kernel: RING, seed, variant: HLT, hostLog: () => {} });
    assert.is(a.ok, b.ok && b.result.reason !== 'hang', `seed ${seed}`);
    assert.is(a.summary, b.summary);
    assert.ok(a.hash.endsWith(`${b.sim.now} ${b.sim.steps}`.slice(0, 0)) && a.hash.includes(` ${b.sim.steps} `), `${a.hash} vs steps ${b.sim.steps}`);
  }
});

E('PCT (depth 3, k from warm-up runs) finds block=hlt-without-cli within 30 schedules (root seed 3)', async () => {
  // Pinned: with root seed 3 the first failing PCT schedule is #9 (k = 609).
  const s = spec(HLT, 'pct');
  s.params = { depth: 3, expectedSteps: await measureExpectedSteps(ring, s, 3) };
  let found = -1;
  for (let i = 0; i < 30 && found < 0; i++) {
    const r = await runSchedule(ring, s, i, 3 + i);
    if (!r.ok) {
      assert.is(r.signature, LOST);
      found = i;
    }
  }
  assert.ok(found >= 0, 'no failure in 30 PCT schedules');
});

E('a failing schedule shrinks to a 1-minimal one: dropping any one deviation makes the run pass', async () => {
  // Random schedule 17 fails (pinned in test/guest/variants.test.ts too).
  const r = await runSchedule(ring, spec(HLT, 'random'), 0, 17);
  assert.is(r.signature, LOST);
  const s = await shrink(ring, { spec: spec(HLT, 'random'), seed: 17, deviations: r.deviations, signature: r.signature });
  assert.ok(s.deviations.length >= 1 && s.deviations.length < r.deviations.length, `${r.deviations.length} -> ${s.deviations.length}`);
  assert.is(s.final.outcome.signature, LOST);
  const steps = renderSteps(s.final).filter((l) => /^\s*\d+\./.test(l));
  assert.is(steps.length, s.deviations.length);
  assert.ok(steps.length <= 25);
  for (let k = 0; k < s.deviations.length; k++) {
    const without = s.deviations.filter((_, j) => j !== k);
    const again = await replay(ring, spec(HLT, 'random'), 17, undefined, without, false);
    assert.ok(again.outcome.ok || again.outcome.signature !== LOST, `still fails without deviation ${k}: ${JSON.stringify(s.deviations[k])}`);
  }
});

E('a shrink cut short by its run budget says it is not 1-minimal', async () => {
  const r = await runSchedule(ring, spec(HLT, 'random'), 0, 17);
  const s = await shrink(ring, { spec: spec(HLT, 'random'), seed: 17, deviations: r.deviations, signature: r.signature }, { maxRuns: 2, oneDeviation: false, probe: false });
  assert.is(s.minimal, false);
  assert.is(s.final.outcome.signature, LOST);
  const full = await shrink(ring, { spec: spec(HLT, 'random'), seed: 17, deviations: r.deviations, signature: r.signature });
  assert.is(full.minimal, true);
});

E('replay tokens round-trip and reproduce; bad tokens are refused', async () => {
  const t: ReplayToken = { v: 1, target: RING, variant: HLT, workload: 'default', strategy: 'random', seed: 17, choices: [], signature: LOST, commit: 'abc' };
  const r = await runSchedule(ring, spec(HLT, 'random'), 0, 17);
  t.choices = r.deviations;
  const tok = encodeToken(t);
  assert.ok(/^[A-Za-z0-9_-]+$/.test(tok));
  assert.equal(decodeToken(tok), t);
  const again = await replayToken(decodeToken(tok), false);
  assert.is(again.outcome.signature, LOST);
  assert.throws(() => decodeToken('!!!'), /replay token|not a replay token/);
  assert.throws(() => decodeToken(encodeToken({ ...t, seed: -1 })), /seed/);
  assert.throws(() => decodeToken(encodeToken({ ...t, choices: [['hlt', 'd1v0', -1, 'x']] })), /choices/);
});

E('--emit-test writes a uvu test that replays the token and asserts the signature', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xenode-emit-'));
  try {
    const t: ReplayToken = { v: 1, target: RING, variant: HLT, workload: 'default', strategy: 'random', seed: 17, choices: [['hypercall', 'd1v0', 7, 'ring-producer-1']], signature: LOST, commit: 'abc' };
    const file = emitTest(dir, t, encodeToken(t), ['  1. #2 at hypercall']);
    const text = readFileSync(file, 'utf8');
    assert.match(text, encodeToken(t));
    assert.match(text, `assert.is(r.outcome.signature, ${JSON.stringify(LOST)})`);
    const imp = /from '(\..*replay\.ts)'/.exec(text)![1]!;
    assert.ok(existsSync(path.resolve(dir, imp)), imp);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

E('determinism: each schedule run twice gives the same decision and outcome hash (every strategy)', async () => {
  const s = spec(HLT, 'pct', { depth: 3, expectedSteps: 60 });
  for (const strategy of ['random', 'pct', 'swarm'] as const) {
    for (let seed = 1; seed <= 5; seed++) {
      const { div } = await runChecked(ring, { ...s, strategy }, seed, seed, true);
      assert.is(div, undefined, `${strategy} seed ${seed}`);
    }
  }
});

E('shards partition the schedules and merge to the unsharded report', async () => {
  assert.equal(shardIndices(7, { index: 1, count: 3 }), [1, 4]);
  assert.throws(() => shardIndices(7, { index: 3, count: 3 }), /bad shard/);
  const o = { spec: spec(HLT, 'random'), seed: 10, schedules: 12, jobs: 1, checkDeterminism: false };
  const all = await runCampaign(ring, { ...o, shard: { index: 0, count: 1 } });
  const a = await runCampaign(ring, { ...o, shard: { index: 0, count: 2 } });
  const b = await runCampaign(ring, { ...o, shard: { index: 1, count: 2 } });
  const m = mergeReports([{ ...a, shardCount: 2 }, { ...b, shardCount: 2 }]);
  assert.is(m.run, all.run);
  assert.is(m.failures, all.failures);
  assert.is(m.firstFailure, all.firstFailure);
  assert.equal(m.shards, [0, 1]);
  assert.throws(() => mergeReports([a, a]), /twice/);
  assert.throws(() => mergeReports([a, { ...b, seed: 11 }]), /different campaigns/);
});

E.run();
