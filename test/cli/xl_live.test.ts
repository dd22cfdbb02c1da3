import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { LiveTime, MAX_TICK_NS } from '../../src/cli/xl_live.ts';

const t = suite('the prompt\'s live clock and serial console');

t('virtual time follows the wall clock between commands (bounded per tick), stops during one, and echoes Xen\'s ring', async () => {
  const h = new Machine({ seed: 2, kernel: false });
  h.files.set('hello.cfg', 'name="hello"\nkernel="kernels/hello.ts"\nmemory=32\non_poweroff="preserve"\n');
  let wall = 0;
  const serial: [string, boolean][] = [];
  const live = new LiveTime(h, { now: () => wall, serial: (s, typing) => serial.push([s, typing]) });
  await live.hold(() => h.xl('create hello.cfg'));
  const t0 = h.sim.now;
  assert.is(h.console(1) ?? '', '', 'created, not yet run: the frozen prompt showed an empty console here');
  for (let i = 0; i < 30; i++) {
    wall += 100;
    live.tick();
  }
  assert.is(h.sim.now - t0, 3e9, '3 s of wall time, 3 s of virtual time');
  assert.match(h.console(1)!, /Hello from xenode!\n[\s\S]*Goodbye\.\n$/, 'the guest ran by itself');
  // A long pause (a suspended process) is not replayed in full.
  wall += 3_600_000;
  const before = h.sim.now;
  live.tick();
  assert.is(h.sim.now - before, MAX_TICK_NS);
  // The guest's shutdown was logged by Xen while the prompt waited: echoed with a redraw.
  assert.equal(serial, [['(XEN) d1: shutdown: poweroff\n', true]]);
  // During a command the clock is held; what the command made Xen print is echoed after it, without a redraw.
  const during = h.sim.now;
  await live.hold(async () => {
    wall += 1000;
    live.tick();
    assert.is(h.sim.now, during, 'no tick inside a command');
    h.hv.debugKeys('h');
  });
  assert.equal(serial[1]![1], false);
  assert.match(serial[1]![0], /^\(XEN\) 'h' pressed -> showing installed handlers\n/);
  live.tick();
  assert.is(serial.length, 2, 'nothing new, nothing echoed');
});

t('a host failure inside a tick stops the clock and is reported, not thrown', () => {
  const h = new Machine({ seed: 1, kernel: false });
  let wall = 0;
  const failures: unknown[] = [];
  const live = new LiveTime(h, { now: () => wall, serial: () => {}, failed: (e) => failures.push(e) });
  h.sim.clock.at(h.sim.now + 1e6, () => {
    throw new Error('boom');
  }, 'test');
  wall += 10;
  live.tick();
  assert.is(failures.length, 1);
  assert.match(String(failures[0]), /boom/);
});

t.run();
