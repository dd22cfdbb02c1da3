// dom0's event demux and IRQ table (src/dom0/kernel/events.ts) on a real hypervisor.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { XEN_E } from '../../../src/abi/xen.ts';
import { attachDom0Events } from '../../../src/dom0/kernel/events.ts';
import { setup } from '../../xen/_helpers.ts';

const t = suite('dom0 events');

t('the demux clears pending before the handler and coalesces', () => {
  const { sim, hv, dom0: d0 } = setup();
  const dom0 = Object.assign(attachDom0Events(d0), { evtchn: d0.evtchn });
  const bd = hv.createDomain({ name: 'backend', memKiB: 1024, vcpus: 1, host: true });
  const b = Object.assign(attachDom0Events(bd), { evtchn: bd.evtchn });
  const pa = dom0.evtchn.allocUnbound(b.id);
  const pb = b.evtchn.bindInterdomain(0, pa);
  b.evtchn.clearPending(pb);
  let aGot = 0, bGot = 0;
  dom0.bindHandler(pa, (port) => {
    aGot++;
    assert.not.ok(dom0.evtchn.isPending(port), 'pending cleared before the handler');
    if (aGot < 100) dom0.evtchn.send(pa);
  });
  b.bindHandler(pb, () => { bGot++; b.evtchn.send(pb); });
  dom0.evtchn.send(pa);
  dom0.evtchn.send(pa); // coalesced with the first
  const r = sim.run();
  assert.is(r.reason, 'idle');
  assert.is(aGot, 100);
  assert.is(bGot, 100);
  assert.is(dom0.bindHandler(0, () => {}), -XEN_E.EINVAL);
  assert.equal(hv.internalErrors, []);
});

t.run();
