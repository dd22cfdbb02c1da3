// dom0 scenarios as explore targets: xenwatch-stall fails under the default
// schedule with the single xenwatch (the stuck thread's stack in the
// signature) and passes with mtwatch; unknown variants are refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findTarget } from '../../src/machine/explore/registry.ts';
import { replay, runSchedule } from '../../src/machine/explore/schedule.ts';

const E = suite('xenode explore: scenario targets');

E('xenwatch-stall: single fails (xl create of the next domain; [xenwatch] in kthread_stop), mtwatch passes', async () => {
  const t = findTarget('xenwatch-stall');
  const single = await replay(t, { variant: 'single', workload: 'netback' }, 1, undefined, [], false);
  assert.is(single.outcome.ok, false);
  assert.match(single.outcome.signature, /^xl create of the next domain fails; \[xenwatch\] D kthread_stop<xenvif_disconnect_data</);
  const mt = await replay(t, { variant: 'mtwatch', workload: 'netback' }, 1, undefined, [], false);
  assert.ok(mt.outcome.ok, mt.outcome.summary);
});

E('xenwatch-stall mtwatch: random schedules pass on every workload (the survival run, in small)', async () => {
  const t = findTarget('xenwatch-stall');
  for (const workload of t.workloads) {
    const spec = { target: t.name, variant: 'mtwatch', workload, strategy: 'random' as const, params: {} };
    for (let i = 0; i < 4; i++) {
      const r = await runSchedule(t, spec, i, 1 + i);
      assert.ok(r.ok, `${workload} seed ${1 + i}: ${r.summary}`);
      assert.ok(r.deviations.length > 0, 'the random strategy preempted somewhere');
    }
  }
});

E('targets refuse unknown names, variants and workloads (a throw under a schedule is a "threw:" failure)', async () => {
  assert.throws(() => findTarget('no-such'), /unknown target 'no-such'/);
  assert.throws(() => findTarget('kernels/no-such.ts'), /no kernel file/);
  const t = findTarget('xenwatch-stall');
  const bad = await replay(t, { variant: 'both', workload: 'netback' }, 1, undefined, [], false);
  assert.is(bad.outcome.ok, false);
  assert.match(bad.outcome.signature, /^threw: xenwatch-stall: unknown variant 'both'/);
  const k = findTarget('kernels/ring.ts');
  const heavy = await replay(k, { variant: 'fixed', workload: 'heavy' }, 1, undefined, [], false);
  assert.match(heavy.outcome.signature, /^threw: kernels\/ring\.ts: unknown workload 'heavy'/);
});

E.run();
