// kernels/kexec.ts after its hand-overs follows the toolstack: `xl
// network-detach` closes its device, `xl network-attach` gives it a new one
// with the same id. Issued back to back, the old frontend directory's removal
// and the new one's creation can both be committed before the kernel reads
// the node again: a kernel waiting for "the old device is gone" would read
// only the new device and wait forever. It waits for "no longer Closed"
// (FrontendBus's race 1), so every seed reconnects.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { XenbusState } from '../../src/abi/xen.ts';
import { Machine } from '../../src/machine/machine.ts';

const t = suite('kexec: detach + attach back to back');
const MS = 1e6;
const BE = '/local/domain/0/backend/vif/1/0';
const CFG =
  `name = "kexec"\nkernel = "kernels/kexec.ts"\nmemory = 64\nvcpus = 1\n` +
  `vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nextra = "dev=vif cycles=0 pause=1"\n`;

function runUntil(m: Machine, cond: () => boolean, limitNs: number): boolean {
  const end = m.sim.now + limitNs;
  while (!cond()) {
    if (m.sim.now >= end) return false;
    m.sim.run({ until: Math.min(end, m.sim.now + MS) });
  }
  return true;
}

const lines = (m: Machine, prefix: string) => (m.console(1) ?? '').split('\n').filter((l) => l.startsWith(prefix));

t('the kernel reconnects when the attach lands before it saw the old device go (seeds 1-6)', async () => {
  for (let seed = 1; seed <= 6; seed++) {
    const m = new Machine({ seed, xenpvQemu: false });
    m.files.set('k.cfg', CFG);
    assert.is((await m.xl('create k.cfg')).code, 0);
    assert.ok(runUntil(m, () => lines(m, 'kexec: handover done').length === 1, 2000 * MS), `seed ${seed}: boot: ${m.console(1)}`);
    for (let round = 1; round <= 3; round++) {
      // No sim time between the two commands beyond what xl itself waits for.
      const d = m.xlSync('network-detach 1 0');
      assert.equal([d.code, d.stderr], [0, ''], `seed ${seed} round ${round}: detach`);
      const a = m.xlSync('network-attach 1 mac=00:16:3e:00:00:01');
      assert.equal([a.code, a.stderr], [0, ''], `seed ${seed} round ${round}: attach`);
      const ok = runUntil(m, () => lines(m, 'kexec: vif 0 in use').length === round, 2000 * MS);
      assert.ok(ok, `seed ${seed} round ${round}: no reconnect; backend state ${m.xenstoreRead(`${BE}/state`).stdout.trim()}; console:\n${lines(m, 'kexec:').slice(-4).join('\n')}`);
      assert.is(m.xenstoreRead(`${BE}/state`).stdout.trim(), String(XenbusState.Connected));
    }
    assert.equal(lines(m, 'kexec: vif 0 detached').map((l) => l.endsWith('returned yes')), [true, true, true]);
  }
});

t.run();
