import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../../src/machine/machine.ts';
import { dom0Command } from '../../../src/machine/shell.ts';
import { main as xlMain } from '../../../src/cli/xl.ts';
import { capture } from '../../capture.ts';

const shell = suite("dom0's shell beside xl");

shell('the 2018 netback stall by hand: hold, destroy, look, ifconfig down/up', async () => {
  const host = new Machine({ seed: 7, xenwatch: 'single' });
  host.files.set('nf.cfg', `name = "nf"\nkernel = "kernels/netfront.ts"\nmemory = 64\nvcpus = 1\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nextra = "tx=1500 interval=1ms"\n`);
  const sh = (line: string) => {
    const r = dom0Command(host, line.split(' '));
    assert.ok(r, `${line} is a dom0 command`);
    return r;
  };
  assert.is((await host.xl('create nf.cfg')).code, 0);
  host.sim.run({ until: host.sim.now + 200e6 });
  assert.match(sh('xwstall hold vif1.0').stdout, /hold the next zerocopy sk_buff from vif1\.0/);
  host.sim.run({ until: host.sim.now + 300e6 });
  assert.match(sh('ethtool -S vif1.0').stdout, /tx_zerocopy_sent: [1-9]/);
  assert.match((await host.xl('destroy 1')).stderr, /unable to remove device with path \/local\/domain\/0\/backend\/vif\/1\/0/);
  assert.match((await host.xl('list')).stdout, /\(null\)\s+1\s+0\s+1\s+--p--d/);
  assert.match(sh('ps').stdout, /\n\s+39 D    \[xenwatch\]/);
  assert.match(sh('cat /proc/39/stack').stdout, /^\[<0>\] kthread_stop\+0x3e\/0x110\n\[<0>\] xenvif_disconnect_data/);
  assert.is(sh('ifconfig eth0 down').code, 0);
  assert.is(sh('ifconfig eth0 up').code, 0);
  host.sim.run({ until: host.sim.now + 1e9 });
  assert.not.match((await host.xl('list')).stdout, /\(null\)/);
  assert.match(sh('dmesg').stdout, /eth0: down, freed 1 tx skb\(s\)/);
});

shell('bad input: clear errors, nothing else', () => {
  const host = new Machine({ seed: 1 });
  assert.is(dom0Command(host, ['create', 'x.cfg']), undefined, 'xl commands are not the shell');
  assert.is(dom0Command(host, ['cat', '/etc/passwd'])!.code, 1);
  assert.match(dom0Command(host, ['cat', '/proc/99999/stack'])!.stderr, /No such file or directory/);
  assert.match(dom0Command(host, ['ethtool', '-S', 'vif9.9'])!.stderr, /No such device/);
  assert.is(dom0Command(host, ['ifconfig', 'eth0', 'sideways'])!.code, 2);
  assert.match(dom0Command(host, ['xenstore-read', '/nope'])!.stderr, /couldn't read path \/nope/);
  assert.is(dom0Command(host, ['xenstore-write', '/a/b', 'v'])!.code, 0);
  assert.is(dom0Command(host, ['xenstore-read', '/a/b'])!.stdout, 'v\n');
});

shell('xenode xl takes a whole `a; b` line in one argument', async () => {
  const { code, out } = await capture(() => xlMain(['xenstore-write /x 1; xenstore-read /x; list']));
  assert.is(code, 0);
  assert.match(out, /# xenstore-read \/x\n1\n# list\nName\s+ID/);
});

shell.run();
