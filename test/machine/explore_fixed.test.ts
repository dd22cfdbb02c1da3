// The fixed runtime survives a few hundred explored schedules on
// kernels/ring.ts (the 100,000-schedule run is a documented command, not a test).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCampaign } from '../../src/machine/explore/campaign.ts';
import { findTarget } from '../../src/machine/explore/registry.ts';

const ring = findTarget('kernels/ring.ts');
const E = suite('xenode explore: the fixed runtime');
const spec = (strategy: 'random' | 'pct' | 'swarm' | 'pos') => ({ target: 'kernels/ring.ts', variant: 'fixed', workload: 'default', strategy, params: { depth: 3, expectedSteps: 80 } });

E('the fixed runtime survives 120 random, 30 PCT, 60 swarm and 60 pos schedules', async () => {
  for (const [strategy, n] of [['random', 120], ['pct', 30], ['swarm', 60], ['pos', 60]] as const) {
    const rep = await runCampaign(ring, { spec: spec(strategy), seed: 1000, schedules: n, shard: { index: 0, count: 1 }, jobs: 1, checkDeterminism: false });
    assert.is(rep.run, n);
    assert.is(rep.failures, 0, `${strategy}: ${rep.signatures.map((x) => x.signature).join('; ')}`);
  }
});

E.run();
