import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../../src/machine/machine.ts';
import { XlSession } from '../../../src/cli/xl_session.ts';

const t = suite('xl create -c and xenconsoled\'s guest logs');

t('create -c prints the console from the first byte until the domain is gone (on_poweroff=destroy); the log file outlives it', async () => {
  const h = new Machine({ seed: 3, kernel: false, monitor: true });
  h.files.set('bye.cfg', 'name="bye"\nkernel="kernels/hello.ts"\nmemory=32\n');
  const r = await h.xl('create -c bye.cfg');
  assert.equal([r.code, r.stderr], [0, 'Parsing config from bye.cfg\n']);
  assert.match(r.stdout, /^Solo5: Xen console: port 0x2, ring @0x0000000000004000\nHello from xenode!\n/);
  // The monitor destroys it right after the poweroff.
  h.sim.run({ until: h.sim.now + 1e9 });
  assert.is(h.hv.domain(1), undefined);
  assert.equal([h.xlSync('console bye').code, h.xlSync('console bye').stderr], [1, 'bye is an invalid domain identifier (rc=-6)\n']);
  const s = new XlSession(h, { out: () => {}, err: () => {} });
  const ls = await s.command(['ls', '/var/log/xen/console']);
  assert.equal([ls.code, ls.stdout], [0, 'guest-bye.log\n']);
  const cat = await s.command(['cat', '/var/log/xen/console/guest-bye.log']);
  assert.is(cat.stdout, r.stdout);
  // Created again under the same name: the same file, appended.
  assert.is((await h.xl('create -q -c bye.cfg')).stderr, '');
  const again = (await s.command(['cat', '/var/log/xen/console/guest-bye.log'])).stdout;
  assert.ok(again.startsWith(r.stdout + 'Solo5: Xen console:') && again.endsWith('Goodbye.\n'), again);
  const none = await s.command(['cat', '/var/log/xen/console/guest-nosuch.log']);
  assert.equal([none.code, none.stderr], [1, 'cat: /var/log/xen/console/guest-nosuch.log: No such file or directory\n']);
});

t('create -c on a domain that never stops detaches after 60 s of virtual time and says so', async () => {
  const h = new Machine({ seed: 1, kernel: false });
  h.files.set('idle.cfg', 'name="idle"\nmemory=32\n');
  const t0 = h.sim.now;
  const r = h.xlSync('create -c idle.cfg');
  assert.is(r.code, 0);
  assert.match(r.stderr, /detached from the console of domain 1 after 60 s of virtual time; the domain runs on\n$/);
  assert.ok(h.sim.now - t0 >= 60e9);
  assert.ok(h.hv.domain(1) && !h.hv.domain(1)!.dying);
});

t.run();
