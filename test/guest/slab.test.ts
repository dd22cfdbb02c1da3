// lib/slab.ts: frames are zeroed, 8-byte aligned views that never overlap;
// slabs start small and double up to SLAB_BYTES (an owner that carves three
// frames does not pay for a full slab), and a frame past a quarter slab gets
// its own buffer.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FIRST_SLAB_BYTES, SLAB_BYTES, Slab } from '../../src/lib/slab.ts';

const S = suite('slab');

S('views are zeroed, aligned and disjoint; slabs grow from FIRST_SLAB_BYTES to SLAB_BYTES', () => {
  const s = new Slab();
  const sizes = new Set<number>();
  const seen = new Map<ArrayBuffer, [number, number][]>();
  for (let i = 0; i < 2000; i++) {
    const n = 60 + (i % 7) * 200;
    const v = s.alloc(n);
    assert.is(v.length, n);
    assert.is(v.byteOffset % 8, 0);
    assert.ok(v.every((b) => b === 0), 'zeroed');
    v.fill(0xff);
    const buf = v.buffer as ArrayBuffer;
    sizes.add(buf.byteLength);
    const spans = seen.get(buf) ?? [];
    for (const [a, b] of spans) assert.ok(v.byteOffset >= b || v.byteOffset + n <= a, 'disjoint');
    spans.push([v.byteOffset, v.byteOffset + n]);
    seen.set(buf, spans);
  }
  const want: number[] = [];
  for (let b = FIRST_SLAB_BYTES; b <= SLAB_BYTES; b *= 2) want.push(b);
  assert.equal([...sizes].sort((a, b) => a - b), want);
});

S('a frame larger than the next slab gets a slab that holds it; past a quarter slab, its own buffer', () => {
  const s = new Slab();
  const v = s.alloc(FIRST_SLAB_BYTES * 3);
  assert.ok(v.buffer.byteLength >= FIRST_SLAB_BYTES * 3 && v.buffer.byteLength <= SLAB_BYTES);
  const big = s.alloc(SLAB_BYTES / 4 + 1);
  assert.is(big.buffer.byteLength, SLAB_BYTES / 4 + 1);
});

S.run();
