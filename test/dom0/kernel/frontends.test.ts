import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Host } from '../../../src/dom0/host.ts';

const t = suite('guest frontends against dom0 backends');

t('kernels/netfront.ts: real netfront ↔ netback, zerocopy counters move', async () => {
  const host = new Host({ seed: 1 });
  host.files.set('nf.cfg', `name = "nf"\nkernel = "kernels/netfront.ts"\nmemory = 64\nvcpus = 1\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nextra = "tx=1500 interval=1ms count=20"\n`);
  const r = await host.xl('create nf.cfg');
  assert.not.match(r.stderr ?? '', /error/, String(r.stderr));
  const k = host.kernel!;
  host.sim.runUntil(() => (k.netback.vifs.get('vif1.0')?.stats.tx_zerocopy_sent ?? 0) >= 20, { until: host.sim.now + 5e9 });
  const vif = k.netback.vifs.get('vif1.0')!;
  assert.ok(vif, 'vif1.0 exists');
  assert.is(vif.stats.tx_zerocopy_sent, 20);
  assert.match(k.ethtool('vif1.0')!, /tx_zerocopy_sent: 20/);
  assert.equal(k.oopses, []);
});

t.run();
