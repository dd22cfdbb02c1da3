// A schedule run on guest realms reused from earlier schedules (realm_pool.ts)
// gives the same result as on fresh realms: the same outcome, fingerprint and
// trace hash; and --check-determinism compares exactly that. ring.ts's runtime
// never sees a native promise; missed-event's kernel (kernels/ping.ts) is an
// async function, so its realms are pooled after the loader drained them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCampaign } from '../../src/machine/explore/campaign.ts';
import { findTarget } from '../../src/machine/explore/registry.ts';
import { runSchedule, type Spec } from '../../src/machine/explore/schedule.ts';
import { realmStats, setRealmPooling } from '../../src/dom0/toolstack/realm_pool.ts';

const ring = findTarget('kernels/ring.ts');
const missed = findTarget('missed-event');
const E = suite('xenode explore: reused guest realms');
const spec = (variant: string, strategy: 'random' | 'swarm'): Spec => ({ target: 'kernels/ring.ts', variant, workload: 'default', strategy, params: {} });
const missedSpec = (variant: string): Spec => ({ target: 'missed-event', variant, workload: 'netfront-setup', strategy: 'random', params: {} });

async function hashes(s: Spec, seeds: number[]): Promise<string[]> {
  const out: string[] = [];
  const t = s.target === 'missed-event' ? missed : ring;
  for (const seed of seeds) {
    const r = await runSchedule(t, s, seed, seed);
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

E('missed-event (an async kernel): reused realms give the same outcomes and hashes as fresh ones, failures included', async () => {
  // handler-clears-upcall-pending stalls on seed 8 (masked-after-delivery).
  const seeds = Array.from({ length: 8 }, (_, i) => 1 + i);
  for (const s of [missedSpec('fixed'), missedSpec('handler-clears-upcall-pending')]) {
    setRealmPooling(true);
    await hashes(s, [100]); // a realm in the pool
    const reused0 = realmStats.reused;
    const pooled = await hashes(s, seeds);
    assert.ok(realmStats.reused - reused0 >= seeds.length, `realms were reused (${realmStats.reused - reused0})`);
    setRealmPooling(false);
    const fresh = await hashes(s, seeds);
    setRealmPooling(true);
    assert.equal(pooled, fresh, s.variant);
    if (s.variant !== 'fixed') assert.ok(pooled.some((h) => h.startsWith('false stall')), `${s.variant}: a stall among ${pooled.join(', ')}`);
  }
});

E('missed-event: --check-determinism (first copy on reused realms, second on fresh ones) finds no divergence', async () => {
  const rep = await runCampaign(missed, { spec: missedSpec('fixed'), seed: 7, schedules: 6, shard: { index: 0, count: 1 }, jobs: 1, checkDeterminism: true });
  assert.is(rep.run, 6);
  assert.equal(rep.nondeterministic, []);
});

E.run();
