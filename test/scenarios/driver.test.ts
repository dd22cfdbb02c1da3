// The scenario driver on an idle machine: Sim.run returns 'idle' without
// moving the clock when no task and no timer is left, and a loop "until
// now >= end" used to spin forever there (the mtwatch xenwatch-stall hang of
// dd0e93b: every thread blocked, the guest dead, no timer).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { makeDriver } from '../../src/machine/scenarios/driver.ts';

const d = suite('scenario driver');
const S = 1e9;

d('runUntil and runFor on an idle machine return and let virtual time pass', () => {
  const host = new Machine({ seed: 1, kernel: false });
  host.sim.run();
  const drv = makeDriver(host, {});
  const t0 = host.sim.now;
  assert.is(drv.runUntil(() => false, 5 * S), false);
  drv.runFor(2 * S);
  assert.ok(host.sim.now >= t0 + 2 * S && host.sim.now <= t0 + 7 * S, String(host.sim.now - t0));
});

d.run();
