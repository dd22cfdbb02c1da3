import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../../src/machine/machine.ts';
import { SimThread, sleep } from '../../../src/sim/index.ts';

const t = suite('xl pause / unpause / shutdown / reboot');

t('pause and unpause are silent; list shows p; a missing domid is only libxl\'s error, exit 0', async () => {
  const host = new Machine({ seed: 1, kernel: false });
  host.files.set('h.cfg', 'name = "hello"\nkernel = "kernels/hello.ts"\nmemory = 32\n');
  assert.is((await host.xl('create -p h.cfg')).code, 0);
  assert.match(host.xlSync('list hello').stdout, /\nhello\s+1\s+32\s+1\s+--p---/);
  assert.equal(host.xlSync('unpause hello'), { code: 0, stdout: '', stderr: '' });
  assert.match(host.xlSync('list 1').stdout, /\nhello\s+1\s+32\s+1\s+[-r][-b]-[-s]/);
  assert.equal(host.xlSync('pause 1'), { code: 0, stdout: '', stderr: '' });
  assert.match(host.xlSync('list 1').stdout, /\nhello\s+1\s+32\s+1\s+--p/);
  assert.equal(host.xlSync('pause 99'), {
    code: 0, stdout: '',
    stderr: 'libxl: error: libxl_domain.c:587:libxl_domain_pause: Domain 99:Pausing domain: No such process\n',
  });
  assert.equal(host.xlSync('unpause nosuch'), { code: 1, stdout: '', stderr: 'nosuch is an invalid domain identifier (rc=-6)\n' });
  assert.equal(host.xlSync('pause'), { code: 2, stdout: '', stderr: "'xl pause' requires at least one argument.\n" });
});

t('shutdown: writes the PV control request; a guest that never takes it times out after 60 s with rc=-9', async () => {
  const host = new Machine({ seed: 1, kernel: false });
  host.files.set('h.cfg', 'name = "hello"\nkernel = "kernels/hello.ts"\nmemory = 32\n');
  assert.is((await host.xl('create -p h.cfg')).code, 0);
  const t0 = host.sim.now;
  const r = host.xlSync('shutdown hello');
  assert.equal(r, {
    code: 1, stdout: '',
    stderr: 'Shutting down domain 1\n' +
      "libxl: error: libxl_domain.c:854:pvcontrol_cb: guest didn't acknowledge control request: -9\n" +
      'shutdown failed (rc=-9)\n',
  });
  assert.is(host.sim.now - t0 >= 60e9, true, 'libxl waited its 60 s');
  assert.is(host.xenstoreRead('/local/domain/1/control/shutdown').stdout, 'poweroff\n');
  assert.equal(host.xlSync('reboot'), { code: 1, stdout: '', stderr: 'You must specify -a or a domain id.\n\n' });
  assert.equal(host.xlSync('reboot nosuch').code, 1);
});

t('shutdown: a guest that takes the request (empties the node) is acknowledged', async () => {
  const host = new Machine({ seed: 1, kernel: false });
  host.files.set('h.cfg', 'name = "hello"\nkernel = "kernels/hello.ts"\nmemory = 32\n');
  assert.is((await host.xl('create -p h.cfg')).code, 0);
  // The guest's side of the PV control protocol, polled once a virtual second: take the request, empty the node.
  let taken = '';
  new SimThread(host.sim, 9000, 'pv-shutdown', function* () {
    while (taken === '') {
      yield* sleep(1e9);
      const v = yield* host.xs.read(0, '/local/domain/1/control/shutdown');
      if (v) {
        taken = v;
        yield* host.xs.write(0, '/local/domain/1/control/shutdown', '');
      }
    }
  });
  const t0 = host.sim.now;
  const r = host.xlSync('reboot 1');
  assert.equal(r, { code: 0, stdout: '', stderr: 'Rebooting domain 1\n' });
  assert.is(taken, 'reboot');
  assert.ok(host.sim.now - t0 < 60e9, 'acknowledged before the timeout');
});

t.run();
