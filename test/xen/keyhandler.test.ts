import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConsoleRing, CONRING_SIZE } from '../../src/xen/conring.ts';
import { handleKeypress } from '../../src/xen/keyhandler.ts';
import { Hypervisor } from '../../src/xen/hypervisor.ts';
import { Sim } from '../../src/sim/index.ts';

const t = suite("Xen's console ring and debug keys");

t('the ring keeps the newest 16 KiB; the oldest bytes go, lines() drops the cut one', () => {
  assert.is(CONRING_SIZE, 16384);
  const r = new ConsoleRing(32);
  r.puts('(XEN) one\n');
  r.puts('(XEN) two\n');
  assert.equal(r.lines(), ['one', 'two']);
  r.puts('(XEN) three\n(XEN) four\n');
  assert.is(r.read().length, 32);
  assert.is(r.read(), '(XEN) one\n(XEN) two\n(XEN) three\n(XEN) four\n'.slice(-32));
  assert.ok(r.read().startsWith('XEN) two\n'), 'the ring starts mid-line, as Xen\'s does after a wrap');
  assert.equal(r.lines(), ['three', 'four']);
  r.clear();
  assert.is(r.read(), '');
  assert.throws(() => new ConsoleRing(0));
});

t("golden: 'h' lists the installed keys in ASCII order with Xen's format", () => {
  assert.is(handleKeypress('h', []),
    "(XEN) 'h' pressed -> showing installed handlers\n" +
    "(XEN)  key 'e' (ascii '65') => dump evtchn info\n" +
    "(XEN)  key 'h' (ascii '68') => show this message\n");
});

t('unknown keys and bytes >= 128 print nothing', () => {
  for (const k of ['Z', '?', '\u00e9', 'ee', '']) assert.is(handleKeypress(k, []), '', JSON.stringify(k));
});

t('debugKeys() writes into the ring (xl dmesg), debugKey() only renders', () => {
  const hv = new Hypervisor(new Sim({ seed: 1 }), { conringSize: 4096 });
  hv.xenLog('Xen version 4.17 (xenode)');
  assert.ok(hv.debugKey('h').startsWith("(XEN) 'h' pressed"));
  assert.is(hv.conring.read(), '(XEN) Xen version 4.17 (xenode)\n');
  hv.debugKeys('hZ');
  assert.is(hv.conring.read(), '(XEN) Xen version 4.17 (xenode)\n' + handleKeypress('h', []));
  assert.equal(hv.xenConsole.slice(0, 2), ['Xen version 4.17 (xenode)', "'h' pressed -> showing installed handlers"]);
  // A long run stays bounded: the ring never exceeds its size.
  for (let i = 0; i < 200; i++) hv.debugKeys('h');
  assert.is(hv.conring.read().length, 4096);
});

t.run();
