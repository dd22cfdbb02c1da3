import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { machine, makeDomain, ScriptedNetfront } from './fe.ts';

const t = suite('Dom0Kernel');

t('boot: ps shows init, kthreadd, [xenbus] 38, [xenwatch] 39; stacks of idle threads', () => {
  const m = machine();
  m.run();
  assert.match(m.k.psText(), /^  PID STAT COMMAND\n    1 S    \/sbin\/init\n    2 S    \[kthreadd\]\n   38 S    \[xenbus\]\n   39 S    \[xenwatch\]\n$/);
  assert.match(m.k.stack(39)!, /\[<0>\] xenwatch_thread\+0xa5\/0x160\n\[<0>\] kthread\+0x112\/0x130\n\[<0>\] ret_from_fork\+0x35\/0x40\n$/);
  assert.is(m.k.stack(4242), undefined);
  assert.not.ok(m.k.ifconfig('eth9', 'down'));
  assert.is(m.k.ethtool('vif9.0'), undefined);
});

t('hotplug-status written by a toolstack script alone still bridges the vif', () => {
  const m = machine();
  const nf = new ScriptedNetfront(m, makeDomain(m));
  nf.add();
  m.run(() => nf.state('be') === '2');
  nf.connect();
  m.tool.write(`${nf.be}/hotplug-status`, 'connected');
  m.run(() => nf.state('be') === '4');
  assert.ok(m.k.bridge.has(m.k.netback.vifs.get('vif1.0')!));
});

t('mtwatch lifecycle through real introduce/release, and the RFC node option', () => {
  const m = machine({ xenwatch: 'mtwatch' });
  const d = makeDomain(m);
  m.run();
  assert.ok(m.k.ps().some((r) => r.command === `[xen-mtwatch-${d.id}]`));
  m.tool.rm(`/local/domain/${d.id}`);
  m.xs.run(() => m.xs.releaseDomain(d.id));
  m.run();
  assert.not.ok(m.k.ps().some((r) => r.command === `[xen-mtwatch-${d.id}]`));

  const n = machine({ xenwatch: 'mtwatch', mtwatchLifecycle: 'node' });
  n.tool.mkdir('/local/domain/0/mtwatch/7');
  n.run();
  assert.ok(n.k.ps().some((r) => r.command === '[xen-mtwatch-7]'));
  n.tool.rm('/local/domain/0/mtwatch/7');
  n.run();
  assert.not.ok(n.k.ps().some((r) => r.command === '[xen-mtwatch-7]'));
});

t.run();
