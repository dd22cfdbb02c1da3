// A domain's CONSOLEIO_write output is bounded by xenconsoled's rule
// (io.c buffer_append, overflow-data=discard): past 5/4 of the limit the
// middle goes; the boot lines and the newest output stay.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CONSOLEIO_write, HYPERVISOR } from '../../src/abi/xen.ts';
import { ConsoleBuffer, DOMAIN_CONSOLE_MAX } from '../../src/xen/console_buffer.ts';
import { guest, running, setup } from './_helpers.ts';

const t = suite('domain console buffer');

t('the rule on a small limit: [max/2, max) goes once past 5/4 of max', () => {
  const b = new ConsoleBuffer(8);
  b.append('abcdefghij'); // 10 = 5/4 of 8: not past it
  assert.is(b.read(), 'abcdefghij');
  b.append('k'); // 11: keep 'abcd' (max/2) and the newest 11 - 8 = 3
  assert.is(b.read(), 'abcdijk');
  assert.is(b.discarded, 4);
  assert.throws(() => new ConsoleBuffer(0), /limit/);
});

t('a guest writing 1 MiB through CONSOLEIO_write: bounded, first and last lines kept, every byte to onConsole', () => {
  const { hv } = setup();
  const d = guest(hv);
  const v = d.vcpus[0]!;
  running(v);
  let seen = 0;
  d.onConsole = (s) => (seen += s.length);
  const page = new Uint8Array(d.physmap.frame(1));
  const enc = new TextEncoder();
  let total = 0;
  const n = 1024;
  for (let i = 0; i < n; i++) {
    const line = `line ${String(i).padStart(4, '0')} ${'x'.repeat(1013)}\n`; // 1 KiB
    page.set(enc.encode(line));
    assert.is(v.hypercall(HYPERVISOR.console_io, CONSOLEIO_write, line.length, 4096), 0);
    total += line.length;
    assert.ok(d.console.length <= (5 * DOMAIN_CONSOLE_MAX) / 4, `${d.console.length} after line ${i}`);
  }
  assert.is(seen, total);
  assert.ok(d.console.startsWith('line 0000 '));
  assert.ok(d.console.endsWith(`line ${n - 1} ${'x'.repeat(1013)}\n`));
  assert.is(d.console.length + d.consoleBuffer.discarded, total);
});

t.run();
