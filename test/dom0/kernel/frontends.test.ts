import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../../src/machine/machine.ts';

const t = suite('guest frontends against dom0 backends');

t('kernels/netfront.ts: real netfront ↔ netback, zerocopy counters move', async () => {
  const host = new Machine({ seed: 1 });
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

t('kernels/blkfront.ts: real blkfront ↔ blkback on a mem: disk, persistent grants, round trip', async () => {
  const host = new Machine({ seed: 2 });
  host.files.set('bf.cfg', `name = "bf"\nkernel = "kernels/blkfront.ts"\nmemory = 64\nvcpus = 1\ndisk = [ 'format=raw, vdev=xvda, access=rw, target=mem:4' ]\nextra = "io=rw depth=4 count=40"\n`);
  const r = await host.xl('create bf.cfg');
  assert.not.match(r.stderr ?? '', /error/, String(r.stderr));
  const k = host.kernel!;
  host.sim.runUntil(() => (host.console(1) ?? '').includes('round trip'), { until: host.sim.now + 5e9 });
  const con = host.console(1) ?? '';
  assert.match(con, /blkfront: connected to \/local\/domain\/0\/backend\/vbd\/1\/51712: 8192 sectors of 512 bytes, info 0/);
  assert.match(con, /blkfront: 42 requests done|round trip ok/);
  assert.match(con, /round trip ok/);
  assert.ok(k.ps().some((p) => p.command === '[1.xvda-0]'), k.psText());
  const ring = [...k.blkback.blkifs][0]!.rings[0]!;
  assert.is(ring.persistent_gnts.size, 4);
  assert.equal(k.oopses, []);
});

t.run();
