// A schedule run on guest realms reused from earlier schedules (realm_pool.ts)
// gives the same result as on fresh realms: the same outcome, fingerprint and
// trace hash; and --check-determinism compares exactly that.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCampaign } from '../../src/machine/explore/campaign.ts';
import { findTarget } from '../../src/machine/explore/registry.ts';
import { runSchedule, type Spec } from '../../src/machine/explore/schedule.ts';
import { realmStats, setRealmPooling } from '../../src/dom0/toolstack/realm_pool.ts';

const ring = findTarget('kernels/ring.ts');
const E = suite('xenode explore: reused guest realms');
const spec = (variant: string, strategy: 'random' | 'swarm'): Spec => ({ target: 'kernels/ring.ts', variant, workload: 'default', strategy, params: {} });

async function hashes(s: Spec, seeds: number[]): Promise<string[]> {
  const out: string[] = [];
  for (const seed of seeds) {
    const r = await runSchedule(ring, s, seed, seed);
    out.push(`${r.ok} ${r.signature} ${r.hash}`);
  }
  return out;
}

E('ring.ts: the same schedules on reused and on fresh realms give the same outcomes and hashes', async () => {
  const seeds = Array.from({ length: 12 }, (_, i) => 100 + i);
  for (const s of [spec('fixed', 'random'), spec('block=hlt-without-cli', 'swarm')]) {
    setRealmPooling(true);
    await hashes(s, [1, 2]); // fill the pool
    const reused0 = realmStats.reused;
    const pooled = await hashes(s, seeds);
    assert.ok(realmStats.reused - reused0 >= seeds.length - 1, `realms were reused (${realmStats.reused - reused0})`);
    setRealmPooling(false);
    const fresh = await hashes(s, seeds);
    setRealmPooling(true);
    assert.equal(pooled, fresh, s.variant);
  }
});

E('--check-determinism runs each schedule on reused and on fresh realms and finds no divergence', async () => {
  const rep = await runCampaign(ring, { spec: spec('fixed', 'random'), seed: 7, schedules: 8, shard: { index: 0, count: 1 }, jobs: 1, checkDeterminism: true });
  assert.is(rep.run, 8);
  assert.equal(rep.nondeterministic, []);
});

E.run();
