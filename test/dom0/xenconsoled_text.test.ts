// xenconsoled's console decoding (consoleText): ASCII reads skip the
// streaming decoder, and what the decoder must see still reaches it whole.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { consoleText } from '../../src/dom0/xenconsoled.ts';

const ring = () => ({ decoder: new TextDecoder('utf-8', { ignoreBOM: true }), clean: true });
const b = (...xs: number[]) => new Uint8Array(xs);
const ascii = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

test('ASCII reads come back as they are', () => {
  const r = ring();
  assert.is(consoleText(r, ascii('Solo5: Xen console\r\n')), 'Solo5: Xen console\r\n');
  assert.is(consoleText(r, ascii('')), '');
  assert.ok(r.clean);
});

test('a UTF-8 sequence split across reads is decoded whole, then ASCII reads take the fast path again', () => {
  const r = ring();
  assert.is(consoleText(r, b(0x61, 0xe2)), 'a'); // 'a', then the first byte of '€' (E2 82 AC)
  assert.is(r.clean, false);
  assert.is(consoleText(r, b(0x82)), ''); // still inside the sequence: not the fast path
  assert.is(consoleText(r, b(0xac, 0x21)), '€!');
  assert.ok(r.clean);
  assert.is(consoleText(r, ascii('ok')), 'ok');
});

test('an invalid byte is replaced as the decoder does; a byte-order mark is kept, wherever it is', () => {
  const r = ring();
  assert.is(consoleText(r, b(0x41, 0xff, 0x42)), 'A\ufffdB');
  const s = ring();
  assert.is(consoleText(s, ascii('x')), 'x');
  assert.is(consoleText(s, b(0xef, 0xbb, 0xbf, 0x79)), '\ufeffy');
  assert.is(consoleText(ring(), b(0xef, 0xbb, 0xbf, 0x79)), '\ufeffy');
});

test('the same text as one streaming decoder over every split of a mixed stream', () => {
  const bytes = new TextEncoder().encode('boot: é ✓ 𝄞 done\n');
  const want = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  for (let cut = 0; cut <= bytes.length; cut++) {
    for (let cut2 = cut; cut2 <= bytes.length; cut2++) {
      const r = ring();
      const got = consoleText(r, bytes.subarray(0, cut)) + consoleText(r, bytes.subarray(cut, cut2)) + consoleText(r, bytes.subarray(cut2));
      assert.is(got, want, `cuts ${cut}, ${cut2}`);
    }
  }
});

test.run();
