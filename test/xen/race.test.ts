import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { NS, Sim } from '../../src/sim/index.ts';
import { FakeGuest } from '../support/fake_guest.ts';
import { Hypervisor } from '../../src/xen/index.ts';
import { attachDom0Events } from '../../src/dom0/kernel/events.ts';

const t = suite('race');

/** A guest ping-pongs with dom0's host handler; seeded preemption runs dom0 nested at the guest's door calls. */
function echo(seed: number, racyBlock: boolean) {
  const sim = new Sim({ seed, preemptOneIn: 2 });
  const hv = new Hypervisor(sim);
  const dom0 = hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 1024, vcpus: 1, host: true });
  const d = hv.createDomain({ name: 'mirage', memKiB: 256, vcpus: 1 });
  const p0 = dom0.evtchn.allocUnbound(d.id);
  attachDom0Events(dom0).bindHandler(p0, () => dom0.evtchn.send(p0));
  let n = 0;
  let port = -1;
  const g = new FakeGuest(d.vcpus[0]!, {
    start: (x) => { port = x.bindInterdomain(0, p0); },
    event: (x, p) => { if (p === port && ++n < 50) x.send(port); },
  }, { racyBlock });
  d.vcpus[0]!.start(g);
  return { r: sim.run({ until: NS.s }), n };
}

t('§4.4: "set_timer_op; hlt" with IF=1 loses an upcall under some seed; cli/check/sti/hlt never does', () => {
  const hangs: number[] = [];
  for (let seed = 0; seed < 40; seed++) {
    const racy = echo(seed, true);
    if (racy.r.reason === 'hang') {
      hangs.push(seed);
      assert.match(racy.r.hang.summary, /vCPU 0 halted with upcall_pending=1 and port 1 \[1\/0\/1\] \(lost interrupt\)/);
    } else {
      assert.is(racy.n, 50);
    }
    const fixed = echo(seed, false);
    assert.is(fixed.r.reason, 'idle', `fixed guest, seed ${seed}`);
    assert.is(fixed.n, 50);
  }
  assert.ok(hangs.length > 0, 'some seed hits the window');
  // Replays: the same seed hangs again.
  assert.is(echo(hangs[0]!, true).r.reason, 'hang');
});

t.run();
