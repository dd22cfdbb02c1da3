import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CfgError, parseDomainConfig, vdevToDevid } from '../../../src/dom0/toolstack/cfg.ts';

const cfg = suite('xl.cfg parser');

cfg('a full config parses into the typed record', () => {
  const c = parseDomainConfig('pv.cfg', `# a unikernel
name = "netfront-1"
kernel = "kernels/netfront.ts"
memory = 64
vcpus = 2
vif = [ 'mac=00:16:3E:01:02:03,bridge=xenbr0',
        'bridge=xenbr1', ]
disk = [ 'format=raw, vdev=xvda, access=rw, target=/srv/disk.img' ]
on_crash = "preserve"; on_reboot = 'destroy'
extra = "console=hvc0 debug"
device_model_stubdomain_override = 1
`);
  assert.is(c.name, 'netfront-1');
  assert.is(c.kernel, 'kernels/netfront.ts');
  assert.is(c.memory, 64);
  assert.is(c.maxmem, 64);
  assert.is(c.vcpus, 2);
  assert.is(c.type, 'pvh');
  assert.equal(c.vifs, [
    { bridge: 'xenbr0', backend: 0, devid: 0, mac: '00:16:3e:01:02:03' },
    { bridge: 'xenbr1', backend: 0, devid: 1 },
  ]);
  assert.equal(c.disks, [{ target: '/srv/disk.img', vdev: 'xvda', devid: 51712, format: 'raw', access: 'rw', devtype: 'disk', backend: 0 }]);
  assert.is(c.on_crash, 'preserve');
  assert.is(c.on_reboot, 'destroy');
  assert.is(c.on_poweroff, 'destroy');
  assert.is(c.cmdline, 'console=hvc0 debug');
  assert.is(c.stubdom, true);
  assert.is(c.lines.disk, 8);
});

cfg('legacy positional disk spec and defaults', () => {
  const c = parseDomainConfig('x.cfg', `name='a'\ndisk=['phy:/dev/vg/a,xvdb,r']\n`);
  assert.equal(c.disks[0], { target: '/dev/vg/a', vdev: 'xvdb', devid: 51728, format: 'raw', access: 'ro', devtype: 'disk', backend: 0 });
  assert.is(c.memory, 128);
  assert.is(c.vcpus, 1);
  assert.is(c.on_reboot, 'restart');
});

cfg('vdev numbers', () => {
  assert.is(vdevToDevid('xvda'), 51712);
  assert.is(vdevToDevid('xvdb'), 51728);
  assert.is(vdevToDevid('xvda1'), 51713);
  assert.is(vdevToDevid('xvdq'), (1 << 28) | (16 << 8));
  assert.is(vdevToDevid('hda'), 768);
  assert.is(vdevToDevid('sdb'), 2064);
  assert.is(vdevToDevid('51712'), 51712);
  assert.is(vdevToDevid('floppy'), undefined);
});

function errOf(src: string, file = 'bad.cfg'): string {
  try {
    parseDomainConfig(file, src);
  } catch (e) {
    assert.instance(e, CfgError);
    return (e as Error).message;
  }
  assert.unreachable('no error');
  return '';
}

cfg('syntax errors carry file:line and the token, xl style', () => {
  assert.is(errOf('name = "a"\nmemory = = 3\n'), "bad.cfg:2: config parsing error near `=': syntax error, unexpected '=', expecting STRING or NUMBER or '['");
  assert.is(errOf('name = "a"\n\nvcpus 2\n'), "bad.cfg:3: config parsing error near `2': syntax error, unexpected NUMBER, expecting '='");
  assert.is(errOf('name = "a" memory = 2\n'), "bad.cfg:1: config parsing error near `memory': syntax error, unexpected IDENT, expecting $end or ';' or NEWLINE");
  assert.is(errOf("name = 'a'\nvif = [ 'x'\n  'y' ]\n"), "bad.cfg:3: config parsing error near `'y'': syntax error, unexpected STRING, expecting ',' or ']'");
  assert.match(errOf('name = "unterminated\n'), /^bad\.cfg:1: config parsing error near `"unterminated': unterminated string$/);
});

cfg('semantic errors point at the statement line', () => {
  assert.is(errOf('name="a"\nmemory="lots"\n'), 'bad.cfg:2: memory: invalid integer value "lots"');
  assert.is(errOf('name="a"\n\nvif=["mac=zz:00:00:00:00:00"]\n'), 'bad.cfg:3: vif: Invalid MAC address "zz:00:00:00:00:00"');
  assert.is(errOf('name="a"\ndisk=["target=/x"]\n'), 'bad.cfg:2: disk: no vdev specified in "target=/x"');
  assert.is(errOf('name="a"\ndisk=["vdev=xvda,target=/x","vdev=xvda,target=/y"]\n'), 'bad.cfg:2: disk: vdev "xvda" used twice');
  assert.is(errOf('name="a"\non_crash="explode"\n'), 'bad.cfg:2: on_crash: unknown action "explode"');
  assert.is(errOf('memory=3\n'), 'bad.cfg:1: Domain name must be specified.');
  assert.is(errOf('name="a"\nmemory=64\nmaxmem=32\n'), 'bad.cfg:3: maxmem (32) is less than memory (64)');
  assert.is(errOf('name="a"\nvif=["colour=blue"]\n'), 'bad.cfg:2: vif: unknown parameter "colour"');
});

cfg.run();
