import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine, splitArgs } from '../../../src/machine/machine.ts';
import { parseSeeds } from '../../../src/cli/sweep.ts';

const xl = suite('xl on an emulated host (dom0 kernel, netback, blkback)');

xl('network-attach / block-attach / detach against the real backends', () => {
  const host = new Machine({ seed: 4 });
  host.files.set('g.cfg', 'name = "g"\nmemory = 4\n');
  assert.is(host.xlSync('create g.cfg').code, 0);
  let r = host.xlSync('network-attach g mac=00:16:3e:aa:bb:cc bridge=xenbr0');
  assert.equal([r.code, r.stderr], [0, '']);
  assert.is(host.xenstoreRead('/local/domain/0/backend/vif/1/0/state').stdout, '2\n');
  assert.is(host.xenstoreRead('/local/domain/0/backend/vif/1/0/hotplug-status').stdout, 'connected\n');
  r = host.xlSync('block-attach g format=raw, vdev=xvdb, access=ro, target=mem:1');
  assert.equal([r.code, r.stderr], [0, '']);
  assert.is(host.xenstoreRead('/local/domain/0/backend/vbd/1/51728/mode').stdout, 'r\n');
  assert.is(host.xenstoreRead('/local/domain/0/backend/vbd/1/51728/state').stdout, '2\n');
  r = host.xlSync('network-detach g 00:16:3e:aa:bb:cc');
  assert.equal([r.code, r.stderr], [0, '']);
  assert.is(host.xenstoreLs('/local/domain/0/backend/vif/1/0').code, 1);
  r = host.xlSync('block-detach g xvdb');
  assert.equal([r.code, r.stderr], [0, '']);
  assert.is(host.xenstoreLs('/libxl/1/device/vbd/51728').code, 1);
  r = host.xlSync('block-detach g xvdc');
  assert.equal([r.code, r.stderr], [1, 'Error: Device xvdc not connected.\n']);
  r = host.xlSync('destroy g');
  assert.equal([r.code, r.stderr], [0, '']);
  assert.is(host.xlSync('list').stdout.trim().split('\n').length, 2);
  // libxl owns the configs: the destroyed domain's is gone with it.
  assert.is(host.libxl.configs.get(1), undefined);
});

xl('config errors and bad identifiers print like xl', () => {
  const host = new Machine({ seed: 1, kernel: false });
  host.files.set('bad.cfg', 'name = "x"\nmemory = = 1\n');
  let r = host.xlSync('create bad.cfg');
  assert.is(r.code, 1);
  assert.is(r.stderr, "Parsing config from bad.cfg\nbad.cfg:2: config parsing error near `=': syntax error, unexpected '=', expecting STRING or NUMBER or '['\nFailed to parse config: Invalid argument\n");
  r = host.xlSync('create nosuch.cfg');
  assert.equal([r.code, r.stderr], [1, 'Failed to read config file: nosuch.cfg: No such file or directory\n']);
  r = host.xlSync('destroy 0');
  assert.equal([r.code, r.stderr], [1, 'Cannot destroy privileged domain 0.\n']);
  host.files.set('a.cfg', 'name = "a"\n');
  assert.is(host.xlSync('create a.cfg').code, 0);
  r = host.xlSync('create a.cfg');
  assert.is(r.code, 1);
  assert.match(r.stderr, /Domain with name "a" already exists/);
  r = host.xlSync('list nosuch');
  assert.equal([r.code, r.stderr], [1, 'nosuch is an invalid domain identifier (rc=-6)\n']);
});

xl('xl list output is exactly Xen\'s, with a unikernel running', async () => {
  const host = new Machine({ seed: 2, kernel: false });
  host.files.set('hello.cfg', 'name="hello"\nkernel="kernels/hello.ts"\nmemory=32\non_poweroff="preserve"\n');
  assert.is((await host.xl('create hello.cfg')).code, 0);
  host.sim.run({ until: host.sim.now + 3e9 });
  const r = host.xlSync('list');
  assert.is(r.stdout,
    'Name                                        ID   Mem VCPUs\tState\tTime(s)\n' +
    'Domain-0                                     0  2879     4     r-----       0.0\n' +
    'hello                                        1    32     1     ---s--       0.0\n');
  assert.match(host.xlSync('console hello').stdout, /^Solo5: Xen console: port 0x2, ring @0x0000000000004000\nHello from xenode!\n/);
  // As real xl: debug-keys prints nothing, the dump is in the console ring that dmesg reads.
  const dk = host.xlSync('debug-keys e');
  assert.equal([dk.code, dk.stdout, dk.stderr], [0, '', '']);
  assert.match(host.xlSync('dmesg').stdout, /^\(XEN\) 'e' pressed -> dumping event-channel info\n/m);
});

xl('on_poweroff=destroy (default) and on_crash=restart: the xl monitor acts on shutdown', async () => {
  const host = new Machine({ seed: 3, kernel: false, monitor: true });
  host.files.set('bye.cfg', 'name="bye"\nkernel="kernels/hello.ts"\nmemory=32\n');
  assert.is((await host.xl('create bye.cfg')).code, 0);
  host.sim.run({ until: host.sim.now + 5e9 });
  assert.is(host.hv.domain(1), undefined, 'destroyed after poweroff');
  assert.ok(host.diag.some((l) => /Domain 1 has shut down, reason code 0 \(poweroff\); action: destroy/.test(l)));
  assert.is(host.xlSync('list').stdout.trim().split('\n').length, 2);
  // libxl owns the configs: the destroyed domain's is gone with it.
  assert.is(host.libxl.configs.get(1), undefined);
  host.files.set('again.cfg', 'name="again"\nkernel="kernels/hello.ts"\nmemory=32\non_poweroff="restart"\n');
  assert.is((await host.xl('create again.cfg')).code, 0);
  host.sim.run({ until: host.sim.now + 2.5e9 });
  const names = host.hv.domains().filter((d) => !d.dying).map((d) => `${d.id}:${d.name}`);
  assert.ok(names.some((n) => /^[3-9]:again$/.test(n)), names.join(' '));
  // The restart came from libxl's record of the old domain; libxl keeps the new one's, and only it.
  const again = host.hv.domains().find((d) => !d.dying && d.name === 'again')!;
  assert.equal([...host.libxl.configs].map(([id, c]) => `${id}:${c.name}:${c.on_poweroff}`), [`${again.id}:again:restart`]);
});

xl('helpers: shell split, seed ranges', () => {
  assert.equal(splitArgs(`create "my cfg.cfg" name='a b' -p`), ['create', 'my cfg.cfg', 'name=a b', '-p']);
  assert.equal(parseSeeds('1..3,7'), [1, 2, 3, 7]);
  assert.throws(() => parseSeeds('x'));
});

xl.run();
