// One regression test per xenstore XSA class named in
// src/dom0/xenstored/README.md that has no test elsewhere (the README's XSA
// table points at the others, and says which do not apply). Each test does
// what the advisory's attacker did and checks the behaviour its fix gave
// (subjects: /work/shared/reference/xenstore.md §4, Xen's advisories).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { XS_RING_ERROR, XS_RING_REQ_PROD, encodeMessage } from '../../../src/abi/xs_wire.ts';
import { Dom0, world } from './helpers.ts';

const X = suite('xenstore XSAs');

X('XSA-323: the path limit counts the home prefix of a relative path (2048 past /local/domain/N/)', () => {
  const { dom0, guest } = world();
  const g = guest(5);
  assert.is(dom0.q(11, `${'x'.repeat(2048)}\0v`), 'OK\0');
  assert.is(dom0.q(11, `${'x'.repeat(2049)}\0v`), 'ERR:EINVAL');
  assert.is(g.q(11, `${'y'.repeat(2049)}\0v`), 'ERR:EINVAL');
  // Absolute outside any home: 2048 in all.
  assert.is(dom0.q(11, `/${'z'.repeat(2048)}\0v`), 'ERR:EINVAL');
});

X('XSA-325: a guest whose ring broke the protocol is ignored but not released (no @releaseDomain until it dies)', () => {
  const { d, dom0, guest } = world();
  const g = guest(5);
  const w = new Dom0(d);
  w.send(4, '@releaseDomain\0r\0');
  g.ring.set(XS_RING_REQ_PROD, g.ring.get(XS_RING_REQ_PROD) + 5000);
  d.kick(5);
  assert.is(g.ring.get(XS_RING_ERROR), 3);
  assert.equal(w.take(), []);
  assert.is(dom0.q(17, '5\0'), 'T\0');
  d.domainDied(5);
  assert.equal(w.take().map((m) => m.p), ['@releaseDomain\0r\0']);
  assert.is(dom0.q(17, '5\0'), 'F\0');
});

X('XSA-330: RESET_WATCHES in a loop leaks no watch (the quota is whole again each time)', () => {
  const { d, guest } = world();
  const g = guest(5);
  const base = d.watches.size;
  for (let round = 0; round < 20; round++) {
    // cxenstored's check is `count > 128`: the 129th is still accepted.
    for (let i = 0; i < 129; i++) assert.is(g.q(4, `w${i}\0t${i}\0`), 'OK\0', `round ${round} watch ${i}`);
    assert.is(g.q(4, 'one-more\0t\0'), 'ERR:E2BIG');
    assert.is(g.q(21, ''), 'OK\0');
    assert.is(d.watches.size, base);
  }
});

X('XSA-352: a guest cannot give its node to another domain (owner change: EPERM), nothing changes', () => {
  const { dom0, guest } = world();
  const g = guest(5);
  g.q(11, 'mine\0v');
  assert.is(g.q(14, 'mine\0n6\0'), 'ERR:EPERM');
  assert.is(g.q(14, 'mine\0n0\0'), 'ERR:EPERM');
  assert.is(dom0.q(3, '/local/domain/5/mine\0'), 'n5\0r0\0');
  // Its own node, its own owner, more readers: allowed.
  assert.is(g.q(14, 'mine\0n5\0r6\0'), 'OK\0');
});

X('XSA-353: a guest gets no access to / (chmod, rm, list, write under it)', () => {
  const { d, guest } = world();
  const g = guest(5);
  const before = [...d.store.nodes.entries()];
  assert.is(g.q(14, '/\0b5\0'), 'ERR:EACCES');
  assert.is(g.q(13, '/\0'), 'ERR:EACCES');
  assert.is(g.q(1, '/\0'), 'ERR:EACCES');
  assert.is(g.q(11, '/evil\0v'), 'ERR:EACCES');
  assert.equal([...d.store.nodes.entries()], before);
});

X('XSA-416: requests a guest does not read the replies of are not taken off the ring past the outstanding quota (20)', () => {
  const { d, guest } = world();
  const g = guest(5);
  const frame = encodeMessage(2, 0, 0, 'x\0');
  for (let i = 0; i < 60; i++) g.push(frame);
  const conn = [...d.connections].find((c) => c.domid === 5) as unknown as { pendingOutput: number };
  assert.ok(conn.pendingOutput <= 20, `queued replies ${conn.pendingOutput}`);
  // Reading the replies lets the rest through: every request is answered once.
  let answered = 0;
  for (let i = 0; i < 10 && answered < 60; i++) answered += g.recv().filter((m) => m.type === 16).length;
  assert.is(answered, 60);
});

X('XSA-417: a permission naming a domain that was released does not apply to the next domain with that domid', () => {
  const { dom0, guest } = world();
  dom0.q(11, '/f\0secret');
  const g7 = guest(7);
  dom0.q(14, '/f\0n0\0r7\0');
  assert.is(g7.q(2, '/f\0'), 'secret');
  assert.is(dom0.q(9, '7\0'), 'OK\0');
  const again = guest(7);
  assert.is(again.q(2, '/f\0'), 'ERR:EACCES');
  assert.is(again.q(11, '/f\0mine'), 'ERR:EACCES');
});

X('XSA-418: deep trees (1,000 levels) are read, watched and removed without exhausting the stack', () => {
  const { d, dom0 } = world();
  const base = d.store.nodes.size;
  let p = '/local/domain/0/deep';
  for (let i = 0; i < 1000; i++) p += '/a';
  assert.is(dom0.q(11, `${p}\0leaf`), 'OK\0');
  const w = new Dom0(d);
  w.send(4, `${p}\0leaf\0`);
  w.take();
  assert.is(dom0.q(13, '/local/domain/0/deep\0'), 'OK\0');
  assert.equal(w.take().map((m) => m.p), [`${p}\0leaf\0`]);
  // /local, /local/domain and /local/domain/0 were created on the way and stay.
  assert.is(d.store.nodes.size, base + 3);
});

X('XSA-419: nodes a guest created in a cooperating guest\'s home go when it is released', () => {
  const { d, dom0, guest } = world();
  const g5 = guest(5);
  const g6 = guest(6);
  assert.is(g6.q(11, 'share\0'), 'OK\0');
  assert.is(g6.q(14, 'share\0n6\0b5\0'), 'OK\0');
  for (let i = 0; i < 50; i++) assert.is(g5.q(11, `/local/domain/6/share/n${i}\0v`), 'OK\0');
  assert.is(d.store.ownedBy(5), 51);
  assert.is(dom0.q(9, '5\0'), 'OK\0');
  assert.is(d.store.ownedBy(5), 0);
  assert.is(dom0.q(1, '/local/domain/6/share\0'), '');
});

X('XSA-420: a header length near 2^31 or 2^32 is a protocol error at once, not a wait for bytes that never come', () => {
  for (const len of [0x7fffffff, 0x80000000, 0xffffffff, 4097]) {
    const { dom0, guest } = world();
    const g = guest(5);
    const h = encodeMessage(2, 0, 0, 'x\0');
    new DataView(h.buffer).setUint32(12, len, true);
    g.push(h);
    assert.is(g.ring.get(XS_RING_ERROR), 3, `len ${len}`);
    assert.is(dom0.q(2, '/keep\0'), 'ERR:ENOENT');
    const c = new Dom0(dom0.d);
    c.conn.send(h);
    assert.ok(c.conn.closed, `socket-like connection closed for len ${len}`);
  }
});

X('XSA-425: RELEASE while the guest has requests queued, a transaction open and watches (a soft reset)', () => {
  const { d, dom0, guest } = world();
  const g = guest(5);
  const tx = g.q(6, '\0').replace(/\0$/, '');
  g.q(11, 'in-tx\0v', Number(tx));
  g.q(4, 'w\0t\0');
  const base = d.watches.size;
  // Unanswered requests sit in the ring (pushed, not yet kicked).
  g.ring.write(0, 2052, 2048, encodeMessage(11, 0, 0, 'late\0v'));
  assert.is(dom0.q(9, '5\0'), 'OK\0');
  assert.is(d.watches.size, base - 1);
  assert.is(dom0.q(2, '/local/domain/5/late\0'), 'ERR:ENOENT');
  d.kick(5);
  // The domain comes back (kexec): a fresh introduce works and its old state is gone.
  const again = guest(5);
  assert.is(again.q(2, 'in-tx\0'), 'ERR:ENOENT');
  assert.is(again.q(11, 'x\0v'), 'OK\0');
});

X('XSA-481: paths ending in "/local/domain/" are EINVAL, never an internal error', () => {
  const errors: string[] = [];
  const { dom0, guest } = world({ log: (m) => errors.push(m) });
  const g = guest(5);
  for (const p of ['/local/domain/', '/local/domain/5/', '/local/domain//5']) {
    for (const type of [1, 2, 3, 11, 12, 13]) {
      assert.is(dom0.q(type, `${p}\0${type === 11 ? 'v' : ''}`), 'ERR:EINVAL', `dom0 ${type} ${p}`);
      assert.is(g.q(type, `${p}\0${type === 11 ? 'v' : ''}`), 'ERR:EINVAL', `guest ${type} ${p}`);
    }
  }
  assert.equal(errors.filter((e) => e.includes('internal error')), []);
});

X('XSA-483: a reused domid starts with its whole node quota (counters go with the domain)', () => {
  const { dom0, guest } = world({ quotas: { nodes: 50 } });
  let g = guest(5);
  for (let i = 0; i < 49; i++) assert.is(g.q(11, `n${i}\0v`), 'OK\0');
  assert.is(g.q(11, 'over\0v'), 'ERR:ENOSPC');
  assert.is(dom0.q(9, '5\0'), 'OK\0');
  g = guest(5);
  for (let i = 0; i < 49; i++) assert.is(g.q(11, `n${i}\0v`), 'OK\0', `after reuse ${i}`);
});

X('XSA-484: RESET_WATCHES inside a transaction is answered; it ends the transaction (cxenstored: watches and transactions go) and nothing of it is committed', () => {
  const errors: string[] = [];
  const { guest } = world({ log: (m) => errors.push(m) });
  const g = guest(5);
  g.q(4, 'w\0t\0');
  const tx = Number(g.q(6, '\0').replace(/\0$/, ''));
  g.q(11, 'a\0v', tx);
  assert.is(g.q(21, '', tx), 'OK\0');
  assert.is(g.q(7, 'T\0', tx), 'ERR:ENOENT');
  assert.is(g.q(2, 'a\0'), 'ERR:ENOENT');
  const tx2 = Number(g.q(6, '\0').replace(/\0$/, ''));
  assert.is(g.q(11, 'b\0v', tx2), 'OK\0');
  assert.is(g.q(7, 'T\0', tx2), 'OK\0');
  assert.equal(errors.filter((e) => e.includes('internal error')), []);
});

X.run();
