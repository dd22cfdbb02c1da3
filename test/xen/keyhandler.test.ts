import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConsoleRing, CONRING_SIZE } from '../../src/xen/conring.ts';
import { handleKeypress } from '../../src/xen/keyhandler.ts';
import { Hypervisor } from '../../src/xen/hypervisor.ts';
import { Sim } from '../../src/sim/index.ts';
import { setup, guest } from './_helpers.ts';

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
    "(XEN)  key 'g' (ascii '67') => print grant table usage\n" +
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

t("golden: 'g' — one active row per pinned grant, Xen's columns", () => {
  const { hv, dom0 } = setup();
  const d = guest(hv, 'g', 1, 5);
  d.gnttab.grow(1);
  assert.is(d.gnttab.grantAccess(8, 0, 0x13), 0);
  assert.is(d.gnttab.grantAccess(9, 0, 0x14, true), 0);
  assert.is(dom0.gnttab.map(d.id, 8, false).status, 0);
  assert.is(dom0.gnttab.map(d.id, 9, true).status, 0);
  assert.is(dom0.gnttab.map(d.id, 9, true).status, 0);
  hv.debugKeys('g');
  assert.is(hv.conring.read(),
    "(XEN) gnttab_usage_print_all [ key 'g' pressed\n" +
    '(XEN)       -------- active --------       -------- shared --------\n' +
    '(XEN) [ref] localdom mfn      pin          localdom gmfn     flags\n' +
    '(XEN) grant-table for remote d0 (v1)\n' +
    `(XEN)   ${dom0.gnttab.nrFrames} frames (32 max), 1 maptrack frames (1024 max)\n` +
    '(XEN) no active grant table entries\n' +
    '(XEN)       -------- active --------       -------- shared --------\n' +
    '(XEN) [ref] localdom mfn      pin          localdom gmfn     flags\n' +
    '(XEN) grant-table for remote d5 (v1)\n' +
    '(XEN)   1 frames (32 max), 0 maptrack frames (1024 max)\n' +
    // permit_access 1 | reading 8 | writing 0x10 = 0x19, one host-write map; readonly 4 | reading 8 | permit 1 = 0x0d, two host-read maps.
    '(XEN) [0x008]      0 0x00013 0x00000001          0 0x000013 0x19\n' +
    '(XEN) [0x009]      0 0x00014 0x00000200          0 0x000014 0x0d\n' +
    "(XEN) gnttab_usage_print_all ] done\n");
});

t.run();
