import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../../src/machine/machine.ts';

const t = suite('xl network-list / block-list');

t("golden: xl's header and rows from the frontend's keys", async () => {
  const host = new Machine({ seed: 7, xenwatch: 'single' });
  host.files.set('nf.cfg', `name = "nf"\nkernel = "kernels/netfront.ts"\nmemory = 64\nvcpus = 1\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nextra = "tx=1 interval=1ms"\n`);
  assert.is((await host.xl('create nf.cfg')).code, 0);
  host.sim.run({ until: host.sim.now + 200e6 });
  const fe = '/local/domain/1/device/vif/0';
  const rd = (k: string) => host.xenstoreRead(`${fe}/${k}`).stdout.trim();
  const r = host.xlSync('network-list nf');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout,
    'Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       \n' +
    `0   0  00:16:3e:00:00:01     0 ${rd('state').padStart(5)} ${rd('event-channel').padStart(6)} ${rd('tx-ring-ref').padStart(5)}/${rd('rx-ring-ref').padEnd(11)} /local/domain/0/backend/vif/1/0\n`);
  assert.is(rd('state'), '4', 'the frontend is Connected');
  // No vbd: the header only. An unknown name: xl's error, exit 1; no argument: exit 2.
  assert.equal(host.xlSync('block-list 1'), { code: 0, stdout: 'Vdev  BE  handle state evt-ch ring-ref BE-path                       \n', stderr: '' });
  assert.equal(host.xlSync('network-list nosuch').code, 1);
  assert.match(host.xlSync('network-list nosuch').stderr, /^nosuch is an invalid domain identifier \(rc=-6\)\n$/);
  assert.equal(host.xlSync('block-list').code, 2);
});

t('block-list: Vdev is the number, handle the frontend domid', async () => {
  const host = new Machine({ seed: 3, xenwatch: 'single' });
  host.files.set('bf.cfg', `name = "bf"\nkernel = "kernels/blkfront.ts"\nmemory = 64\nvcpus = 1\ndisk = [ 'format=raw, vdev=xvda, access=rw, target=/srv/d.img' ]\n`);
  assert.is((await host.xl('create bf.cfg')).code, 0);
  host.sim.run({ until: host.sim.now + 200e6 });
  const fe = '/local/domain/1/device/vbd/51712';
  const rd = (k: string) => host.xenstoreRead(`${fe}/${k}`).stdout.trim() || '-1';
  const r = host.xlSync('block-list bf');
  assert.is(r.stdout.split('\n')[1], `51712 0   1      ${rd('state').padEnd(5)} ${rd('event-channel').padEnd(6)} ${rd('ring-ref').padEnd(8)} /local/domain/0/backend/vbd/1/51712`);
});

t.run();
