// Detach/attach cycles in which the guest really reconnects (issue 11,
// item 4): kernels/netfront.ts under `xl network-detach` / `network-attach`,
// 150 times (the 1,000 of the issue: the script). After each attach the re-created vif goes InitWait → Connected
// because the guest's FrontendBus closed the old device (grants back, port
// closed) and connected the new one, and frames pass again. Every counter
// comes back exactly to its value after the first cycle. The block twin is
// detach_attach_blk.test.ts; scripts/lifecycle_cycles.ts --detach runs 1,000.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DETACH_EXACT, detachAttachCycle, detachCounters, detachMachine, type DetachCounters } from '../support/detach_attach.ts';

const D = suite('detach/attach: netfront reconnects');
const pick = (c: DetachCounters) => Object.fromEntries(DETACH_EXACT.map((k) => [k, c[k]]));

D('150 network-detach/attach cycles: the guest reconnects each time, traffic passes, nothing leaks', async () => {
  const m = await detachMachine('vif', 3);
  detachAttachCycle(m, 'vif');
  const start = detachCounters(m);
  const console0 = (m.console(1) ?? '').split('\n').filter((l) => l.startsWith('netfront: connected')).length;
  // Each cycle throws unless the new vif reached Connected and the backend completed frames from it.
  for (let i = 0; i < 150; i++) detachAttachCycle(m, 'vif');
  assert.equal(pick(detachCounters(m)), pick(start));
  const lines = (m.console(1) ?? '').split('\n');
  assert.is(lines.filter((l) => l.startsWith('netfront: connected')).length, console0 + 150, 'one connect line per attach');
  assert.ok(lines.filter((l) => l.startsWith('netfront: vif 0 detached')).every((l) => l.endsWith('grants 0 returned yes')), 'every detach gave every grant back');
  assert.equal(m.kernel!.oopses, []);
  assert.equal(m.kernel!.bus.errors, []);
  assert.equal(m.hv.internalErrors, []);
});

D.run();
