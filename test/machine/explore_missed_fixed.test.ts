// The fixed runtime survives a few hundred explored schedules of missed-event
// (netfront-setup under random, PCT and swarm; the other workloads, heavier,
// fewer). The 100,000-schedule survival is a documented command (BENCHMARKS.md).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCampaign } from '../../src/machine/explore/campaign.ts';
import { findTarget } from '../../src/machine/explore/registry.ts';
import type { Spec } from '../../src/machine/explore/schedule.ts';

const t = findTarget('missed-event');
const E = suite('xenode explore missed-event: the fixed runtime');

E('fixed survives 120 random, 60 PCT and 60 swarm schedules of netfront-setup, 12 of ping-flood and 30 of xenstore', async () => {
  const runs: [string, Spec['strategy'], number][] = [
    ['netfront-setup', 'random', 120],
    ['netfront-setup', 'pct', 60],
    ['netfront-setup', 'swarm', 60],
    ['ping-flood', 'random', 12],
    ['xenstore', 'pct', 30],
  ];
  for (const [workload, strategy, n] of runs) {
    const spec: Spec = { target: 'missed-event', variant: 'fixed', workload, strategy, params: { depth: 3, expectedSteps: 400 } };
    const rep = await runCampaign(t, { spec, seed: 2000, schedules: n, shard: { index: 0, count: 1 }, jobs: 1, checkDeterminism: false });
    assert.is(rep.run, n);
    assert.is(rep.failures, 0, `${workload} ${strategy}: ${rep.signatures.map((x) => `${x.signature} (seed ${x.first.seed})`).join('; ')}`);
  }
});

E.run();
