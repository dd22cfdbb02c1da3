// Malformed input never crashes the daemon, never changes what the sender may
// not change, and never disturbs other connections (fast-check, fixed seeds).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encodeMessage } from '../../../src/abi/xs_wire.ts';
import { Dom0, world } from './helpers.ts';

const F = suite('fuzz');

/** A frame with a valid header and a random type/payload, or raw garbage. */
const frame = fc.oneof(
  fc.tuple(fc.nat(30), fc.nat(3), fc.uint8Array({ maxLength: 80 })).map(([t, tx, p]) => encodeMessage(t, 0, tx, p)),
  fc.tuple(fc.constantFrom(1, 2, 3, 4, 5, 11, 12, 13, 14, 22), fc.array(fc.constantFrom('/', 'a', '@', '\0', '/keep', 'data', '//', 'n0', 'r5'), { maxLength: 8 }))
    .map(([t, parts]) => encodeMessage(t, 0, 0, parts.join(''))),
  fc.uint8Array({ minLength: 1, maxLength: 100 }),
);

function snapshot(d: { store: { nodes: Map<string, unknown> } }): string[] {
  return [...d.store.nodes.keys()].filter((p) => !p.startsWith('/local/domain/5')).sort();
}

F('guest ring: random frames and garbage', () => {
  fc.assert(
    fc.property(fc.array(frame, { maxLength: 25 }), (frames) => {
      const errors: string[] = [];
      const { d, dom0, guest } = world({ log: (m) => errors.push(m) });
      dom0.q(11, '/keep\0k');
      const g = guest(5);
      const before = snapshot(d);
      for (const f of frames) {
        g.push(f);
        g.recv();
      }
      assert.equal(errors.filter((e) => e.includes('internal error')), []);
      // The guest can only touch its own home: everything else is as before.
      assert.equal(snapshot(d), before);
      assert.is(dom0.q(2, '/keep\0'), 'k');
      assert.is(new Dom0(d).q(2, '/keep\0'), 'k');
    }),
    { seed: 20261125, numRuns: 150 },
  );
});

F('dom0 local connection: random frames never crash; a bad header drops only that connection', () => {
  fc.assert(
    fc.property(fc.array(frame, { maxLength: 25 }), (frames) => {
      const errors: string[] = [];
      const { d, dom0 } = world({ log: (m) => errors.push(m) });
      dom0.q(11, '/keep\0k');
      const fuzzer = d.connectLocal();
      fuzzer.onMessage = () => {};
      for (const f of frames) fuzzer.send(f);
      assert.equal(errors.filter((e) => e.includes('internal error')), []);
      assert.is(dom0.q(10, '3\0'), '/local/domain/3\0');
      assert.ok(d.connections.has(dom0.conn));
    }),
    { seed: 99, numRuns: 150 },
  );
});

F('oversized header leaves the store unchanged', () => {
  const { d, dom0 } = world();
  const before = [...d.store.nodes.entries()];
  const c = d.connectLocal();
  const h = encodeMessage(11, 0, 0, '/x\0v');
  new DataView(h.buffer).setUint32(12, 0xffffffff, true);
  c.send(h);
  assert.ok(c.closed);
  assert.equal([...d.store.nodes.entries()], before);
  assert.is(dom0.q(2, '/x\0'), 'ERR:ENOENT');
});

F.run();
