// Loud failures (issue 11, item 5): a backend that halts a guest's ring says
// so in dom0's kernel log, once, naming the domain and the reason.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { machine, makeDomain, ScriptedNetfront } from './fe.ts';

const t = suite('backends: halts are in dmesg');

t('netback: a bogus TX req_prod disables the vif with one dmesg line naming the domain', () => {
  const m = machine();
  const nf = new ScriptedNetfront(m, makeDomain(m));
  nf.add();
  m.run(() => nf.state('be') === '2');
  m.hotplug('online', 'vif', nf.be);
  nf.connect();
  m.run(() => nf.state('be') === '4');
  nf.tx.sring.req_prod = (nf.tx.sring.req_prod + 1000) >>> 0;
  nf.d.evtchn.send(nf.port);
  m.run();
  const lines = m.k.klog.lines().filter((l) => /fatal error/.test(l));
  assert.is(lines.length, 1, m.k.klog.lines().join('\n'));
  assert.match(lines[0]!, new RegExp(`^vif${nf.d.id}\\.0: dom${nf.d.id}: fatal error \\(req_prod overflow\\); disabling device$`));
});

t.run();
