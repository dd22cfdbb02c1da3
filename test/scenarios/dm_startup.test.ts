import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dmStartup } from '../../src/machine/scenarios/dm_startup.ts';

const dm = suite('scenario dm-startup');

for (const legacy of [false, true]) {
  dm(`${legacy ? 'legacy' : 'fixed'}: every step's checks hold`, async () => {
    const r = await dmStartup.run({ seed: 3, legacy });
    assert.equal(r.failures, []);
    assert.equal(r.transcript.steps.map((s) => s.id), ['boot', 'dom0-dm', 'stubdom-dm', 'stubdom-alone', 'teardown']);
    const text = r.transcript.render();
    if (legacy) {
      assert.match(text, /libxl waited on \/local\/domain\/0\/device-model\/2\/state; create took 0\.050s/);
      assert.match(text, /qemu for d2 in stubdom d3: write \/local\/domain\/0\/device-model\/2\/state failed: EACCES/);
      assert.match(text, /stub domain did not start: timed out waiting for \/local\/domain\/0\/device-model\/4\/state/);
    } else {
      assert.match(text, /libxl waited on \/local\/domain\/3\/device-model\/2\/state; create took 2\.000s/);
      assert.match(text, /# xenstore-ls \/local\/domain\/3\/device-model\n2 = ""\n state = "running"/);
      assert.not.match(text, /libxl: error/);
    }
  });
}

dm('determinism: same seed, same transcript; --stop-after stops there', async () => {
  const a = await dmStartup.run({ seed: 9, legacy: true });
  const b = await dmStartup.run({ seed: 9, legacy: true });
  assert.is(a.transcript.render(), b.transcript.render());
  const c = await dmStartup.run({ seed: 9, stopAfter: 'dom0-dm' });
  assert.equal(c.transcript.steps.map((s) => s.id), ['boot', 'dom0-dm']);
});

dm.run();
