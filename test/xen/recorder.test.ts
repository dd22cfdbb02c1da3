// The flight recorder grows its ring as steps arrive (no 4,096 slots per
// machine up front), keeps the last `size` steps once full, oldest first,
// with their sequence numbers, and counts the steps it dropped.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Recorder } from '../../src/xen/recorder.ts';
import { guest, setup } from './_helpers.ts';

const R = suite('xen: flight recorder');

R('fills lazily, then wraps: the last `size` steps, oldest first, seq and total go on', () => {
  const { hv } = setup();
  const d = guest(hv);
  const rec = new Recorder(4);
  assert.equal(rec.steps(), []);
  for (let i = 0; i < 3; i++) rec.door(i, d, 0, `door ${i}`, -1);
  assert.equal(rec.steps().map((s) => s.label), ['door 0', 'door 1', 'door 2']);
  for (let i = 3; i < 10; i++) rec.halt(i, d, 0, `halt ${i}`);
  const s = rec.steps();
  assert.equal(s.map((x) => x.seq), [6, 7, 8, 9]);
  assert.equal(s.map((x) => x.label), ['halt 6', 'halt 7', 'halt 8', 'halt 9']);
  assert.equal(s.map((x) => x.kind), ['halt', 'halt', 'halt', 'halt']);
  assert.is(rec.total, 10);
  // A reused slot carries no field of the step it held before.
  rec.timer(10, d, 0, 123);
  const last = rec.steps().at(-1)!;
  assert.is(last.kind, 'timer');
  assert.is(last.label, '');
  assert.is(last.value, 123);
  // steps() hands out copies.
  last.label = 'changed';
  assert.is(rec.steps().at(-1)!.label, '');
});

R('a bad size is refused', () => {
  assert.throws(() => new Recorder(0), /positive integer/);
  assert.throws(() => new Recorder(1.5), /positive integer/);
});

R('the hypervisor records from the first step on', () => {
  const { hv } = setup();
  assert.ok(hv.recorder);
  assert.is(hv.recorder!.total, 0);
  assert.equal(hv.recorder!.steps(), []);
});

R.run();
