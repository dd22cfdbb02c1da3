// The block twin of detach_attach.test.ts: kernels/blkfront.ts (depth 4,
// reads and writes) under `xl block-detach` / `block-attach`, 50 times. The
// requests in flight at a detach fail with -1 and are issued again on the
// new disk; every counter comes back exactly.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DETACH_EXACT, detachAttachCycle, detachCounters, detachMachine, type DetachCounters } from '../support/detach_attach.ts';

const D = suite('detach/attach: blkfront reconnects');
const pick = (c: DetachCounters) => Object.fromEntries(DETACH_EXACT.map((k) => [k, c[k]]));

D('50 block-detach/attach cycles: the guest reconnects each time, I/O passes, nothing leaks', async () => {
  const m = await detachMachine('vbd', 4);
  detachAttachCycle(m, 'vbd');
  const start = detachCounters(m);
  for (let i = 0; i < 50; i++) detachAttachCycle(m, 'vbd');
  assert.equal(pick(detachCounters(m)), pick(start));
  const lines = (m.console(1) ?? '').split('\n');
  assert.ok(lines.filter((l) => l.startsWith('blkfront: vbd 51712 detached')).length >= 50);
  assert.ok(lines.filter((l) => l.startsWith('blkfront: vbd 51712 detached')).every((l) => l.endsWith('grants 0 returned yes')), 'every detach gave every grant back');
  assert.equal(m.kernel!.oopses, []);
  assert.equal(m.kernel!.bus.errors, []);
  assert.equal(m.hv.internalErrors, []);
});

D.run();
