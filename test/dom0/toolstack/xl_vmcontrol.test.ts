import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../../src/machine/machine.ts';

const t = suite('xl pause / unpause');

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

t.run();
