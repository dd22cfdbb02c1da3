// The missed-event scenario as an explore target: every buggy runtime variant
// fails within a few hundred schedules on netfront-setup with the bug class
// explain.ts names, and a pinned failure shrinks to a 1-minimal schedule
// that prints the explanation's numbered steps and replays from its token.
// (The fixed runtime's pass: explore_missed_fixed.test.ts.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCampaign, runChecked } from '../../src/machine/explore/campaign.ts';
import { findTarget } from '../../src/machine/explore/registry.ts';
import { replayToken, shrinkToToken } from '../../src/machine/explore/replay.ts';
import { replay, runSchedule, type Spec } from '../../src/machine/explore/schedule.ts';
import { shrink } from '../../src/machine/explore/shrink.ts';
import { decodeToken } from '../../src/machine/explore/token.ts';

const t = findTarget('missed-event');
const spec = (variant: string, strategy: Spec['strategy'] = 'random', workload = 'netfront-setup'): Spec => ({
  target: 'missed-event', variant, workload, strategy, params: { depth: 3, expectedSteps: 400 },
});
const E = suite('xenode explore missed-event');

// Bug class per variant (the first failure's signature must name it).
const CLASS: Record<string, RegExp> = {
  'june-2020': /^(hang lost-interrupt|stall wedged) d1 /,
  'unmask=checks-mask': /^stall wedged d1 ports 1$/,
  'block=hlt-without-cli': /^hang lost-interrupt d1 /,
  'handler-clears-upcall-pending': /^stall masked-after-delivery d1 /,
  'upcall=global-callback': /^hang storm d1 ports -$/,
};

/** The first failing schedule among indices 0..limit-1 (schedule i has seed 1 + i, as a campaign with root seed 1 runs it). */
async function firstFailure(s: Spec, limit: number): Promise<Awaited<ReturnType<typeof runSchedule>> | undefined> {
  for (let i = 0; i < limit; i++) {
    const r = await runSchedule(t, s, i, 1 + i);
    if (!r.ok) return r;
  }
  return undefined;
}

/** Random schedule 31 of unmask=checks-mask (index 30): the two pinned cases below start from it; run once. */
let schedule31: ReturnType<typeof runSchedule> | undefined;
const pinned31 = () => (schedule31 ??= runSchedule(t, spec('unmask=checks-mask'), 30, 31));

E('every buggy variant fails within 300 random schedules on netfront-setup, with its bug class', async () => {
  for (const [variant, re] of Object.entries(CLASS)) {
    const first = await firstFailure(spec(variant), 300);
    assert.ok(first, `${variant}: no failure in 300 schedules`);
    assert.match(first!.signature, re, `${variant}: ${first!.signature}`);
  }
});

E('PCT finds june-2020 and block=hlt-without-cli on netfront-setup within 40 schedules', async () => {
  for (const variant of ['june-2020', 'block=hlt-without-cli']) {
    // The campaign's schedules (index i, seed 1 + i), stopping at the first failure: the ones after it cannot change the answer.
    const first = await firstFailure(spec(variant, 'pct'), 40);
    assert.ok(first, `${variant}: PCT found nothing in 40`);
    assert.match(first!.signature, CLASS[variant]!);
  }
});

E('PCT with FIFO picks finds unmask=checks-mask on netfront-setup at schedule 27 (root seed 1, k 450); priority picks find nothing in those 28', async () => {
  const fifo: Spec = { ...spec('unmask=checks-mask', 'pct'), params: { depth: 3, expectedSteps: 450, picks: 'fifo' } };
  const rep = await runCampaign(t, { spec: fifo, seed: 1, schedules: 28, shard: { index: 0, count: 1 }, jobs: 1, checkDeterminism: false });
  assert.is(rep.firstFailure, 27);
  assert.is(rep.signatures[0]!.signature, 'stall wedged d1 ports 1');
  const prio = await runCampaign(t, { spec: { ...fifo, params: { ...fifo.params, picks: 'priority' } }, seed: 1, schedules: 28, shard: { index: 0, count: 1 }, jobs: 1, checkDeterminism: false });
  assert.is(prio.failures, 0);
});

E('pinned: unmask=checks-mask random schedule 31 (102 deviations) shrinks to one, with the wedged-port explanation; its token replays', async () => {
  const s = spec('unmask=checks-mask');
  const r = await pinned31();
  assert.is(r.signature, 'stall wedged d1 ports 1');
  assert.is(r.deviations.length, 102);
  const sh = await shrinkToToken(s, r, 'test');
  assert.is(sh.deviations, 1);
  assert.ok(sh.minimal);
  const numbered = sh.steps.filter((l) => /^\s*\d+\. #/.test(l));
  assert.is(numbered.length, 1);
  assert.match(numbered[0]!, /at 'unmask:clear mask' in d1v0: preempt, run d0v0 upcall now/);
  // The explanation explain.ts rebuilds from the flight recorder, under the decisions.
  assert.ok(sh.steps.some((l) => l.includes('why it stalled: port 1 (xenstore) of domain 1 is wedged [1/0/0]')), sh.steps.join('\n'));
  assert.ok(sh.steps.some((l) => /^\s+1\. \[t=/.test(l)));
  const tok = decodeToken(sh.token);
  assert.is(tok.target, 'missed-event');
  assert.is((await replayToken(tok, false)).outcome.signature, r.signature);
  // 1-minimal: without it, the default schedule, which passes.
  assert.ok((await replay(t, s, 31, undefined, [], false)).outcome.ok);
});

E('pinned: ddmin alone (no probe, no one-deviation search) leaves 3 deviations of that schedule, and dropping any one makes the run pass (1-minimal)', async () => {
  const s = spec('unmask=checks-mask');
  const r = await pinned31();
  const sh = await shrink(t, { spec: s, seed: 31, deviations: r.deviations, signature: r.signature }, { oneDeviation: false, probe: false });
  assert.is(sh.deviations.length, 3, JSON.stringify(sh.deviations));
  assert.ok(sh.minimal);
  assert.is(sh.final.outcome.signature, r.signature);
  for (let k = 0; k < sh.deviations.length; k++) {
    const without = sh.deviations.filter((_, j) => j !== k);
    const x = await replay(t, s, 31, undefined, without, false);
    assert.ok(x.outcome.ok || x.outcome.signature !== r.signature, `still fails without ${JSON.stringify(sh.deviations[k])}`);
  }
});

E('determinism: schedules of each workload run twice give the same hashes', async () => {
  for (const workload of ['netfront-setup', 'ping-flood', 'xenstore']) {
    for (const strategy of ['random', 'pct', 'swarm'] as const) {
      const { r, div } = await runChecked(t, spec('june-2020', strategy, workload), 0, 5, true);
      assert.is(div, undefined, `${workload} ${strategy}: ${r.signature}`);
    }
  }
});

E('bad variant or workload is a "threw:" failure naming the known ones', async () => {
  const bad = await replay(t, { variant: 'fixed', workload: 'heavy' }, 1, undefined, [], false);
  assert.match(bad.outcome.signature, /^threw: missed-event: unknown workload 'heavy' \(known: netfront-setup, ping-flood, xenstore\)/);
});

E.run();
