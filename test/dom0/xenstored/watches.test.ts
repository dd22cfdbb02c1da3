// Watches: registration, ancestors, recursive RM, relative paths, order vs
// reply, transactions, specials, size limit, index cost.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Xenstored } from '../../../src/dom0/xenstored/xenstored.ts';
import { Dom0, world } from './helpers.ts';

const W = suite('watches');

W('immediate event after the OK, then events for node and descendants only', () => {
  const d = new Xenstored();
  const a = new Dom0(d);
  assert.equal(a.send(4, '/w\0tok\0', 3, 9), [
    { type: 4, reqId: 9, txId: 3, p: 'OK\0' },
    { type: 15, reqId: 0, txId: 0, p: '/w\0tok\0' },
  ]);
  const b = new Dom0(d);
  b.q(11, '/w/x/y\0v');
  assert.equal(a.take().map((m) => m.p), ['/w/x/y\0tok\0']);
  b.q(11, '/other\0v');
  b.q(11, '/\0v');
  assert.equal(a.take(), []);
});

W("events go out before the writer's own reply; registration order across connections", () => {
  const d = new Xenstored();
  const a = new Dom0(d);
  const b = new Dom0(d);
  b.send(4, '/o\0b1\0');
  a.send(4, '/o/x\0a1\0');
  a.send(4, '/\0a2\0');
  const ms = a.send(11, '/o/x\0v');
  assert.equal(ms.map((m) => `${m.type}:${m.p}`), ['15:/o/x\0a1\0', '15:/o/x\0a2\0', '11:OK\0']);
  assert.equal(b.take().map((m) => m.p), ['/o/x\0b1\0']);
});

W('duplicate → EEXIST, UNWATCH unknown → ENOENT, 3 args → EINVAL', () => {
  const a = new Dom0(new Xenstored());
  a.q(4, '/d\0t\0');
  assert.is(a.q(4, '/d\0t\0'), 'ERR:EEXIST');
  assert.is(a.send(4, '/d\0t2\0').length, 2);
  assert.is(a.q(4, '/d\0t\x001\0'), 'ERR:EINVAL');
  assert.is(a.q(5, '/d\0t\0'), 'OK\0');
  assert.is(a.q(5, '/d\0t\0'), 'ERR:ENOENT');
  assert.is(a.q(4, '/d//\0t\0'), 'ERR:EINVAL');
});

W('recursive RM fires watches registered exactly on deleted descendants', () => {
  const d = new Xenstored();
  const a = new Dom0(d);
  a.q(11, '/deep/x/y/z\0v');
  a.send(4, '/deep/x/y\0exact\0');
  a.send(4, '/deep/x/y/z/q\0never\0');
  a.send(4, '/deep\0top\0');
  a.take();
  a.q(13, '/deep\0');
  const evs = a.take().map((m) => m.p);
  assert.equal(evs, []); // a's events were returned with its reply: check via send
  const b = new Dom0(d);
  b.q(11, '/deep2/x/y\0v');
  b.send(4, '/deep2/x/y\0e\0');
  b.send(4, '/deep2\0t\0');
  const ms = b.send(13, '/deep2\0');
  assert.equal(ms.map((m) => m.p), ['/deep2/x/y\0e\0', '/deep2\0t\0', 'OK\0']);
});

W('relative watch → relative event paths', () => {
  const a = new Dom0(new Xenstored());
  assert.equal(a.send(4, 'relw\0rt\0').map((m) => m.p), ['OK\0', 'relw\0rt\0']);
  assert.equal(a.send(11, '/local/domain/0/relw/z\0v').map((m) => m.p), ['relw/z\0rt\0', 'OK\0']);
});

W('transaction: events held until commit, dropped on abort / EAGAIN', () => {
  const d = new Xenstored();
  const w = new Dom0(d);
  w.send(4, '/t\0tk\0');
  const c = new Dom0(d);
  const id = c.q(6, '\0').replace('\0', '');
  c.q(11, '/t/a\0v', Number(id));
  c.q(11, '/t/a\0v2', Number(id));
  assert.equal(w.take(), []);
  assert.equal(c.send(7, 'T\0', Number(id)).map((m) => m.p), ['OK\0']);
  assert.equal(w.take().map((m) => m.p), ['/t/a\0tk\0']);
  const id2 = Number(c.q(6, '\0').replace('\0', ''));
  c.q(11, '/t/b\0v', id2);
  c.q(7, 'F\0', id2);
  assert.equal(w.take(), []);
});

W('transaction: nodes absent before and after the commit fire nothing (cxenstored)', () => {
  const d = new Xenstored();
  const w = new Dom0(d);
  const c = new Dom0(d);
  c.q(11, '/t\0x');
  w.send(4, '/t\0tp\0');
  w.send(4, '/t/n\0tn\0');
  w.send(4, '/\0tr\0');
  w.take();
  const tx = () => Number(c.q(6, '\0').replace('\0', ''));
  // created then deleted, implicit parents included: nothing, not even for the parent
  let id = tx();
  c.q(11, '/t/n/m/o\0v', id);
  c.q(13, '/t/n\0', id);
  c.q(12, '/u/v\0', id);
  c.q(13, '/u\0', id);
  assert.is(c.q(7, 'T\0', id), 'OK\0');
  assert.equal(w.take(), []);
  // created, deleted, re-created: fires
  id = tx();
  c.q(11, '/t/n\0v', id);
  c.q(13, '/t/n\0', id);
  c.q(11, '/t/n\0w', id);
  c.q(7, 'T\0', id);
  assert.equal(w.take().map((m) => m.p), ['/t/n\0tp\0', '/t/n\0tn\0', '/t/n\0tr\0']);
  // existed before, deleted then re-created: fires
  id = tx();
  c.q(13, '/t/n\0', id);
  c.q(11, '/t/n\0v', id);
  c.q(7, 'T\0', id);
  assert.equal(w.take().map((m) => m.p), ['/t/n\0tp\0', '/t/n\0tn\0', '/t/n\0tr\0']);
  // existed before, deleted: fires
  id = tx();
  c.q(11, '/t/n\0z', id);
  c.q(13, '/t/n\0', id);
  c.q(7, 'T\0', id);
  assert.equal(w.take().map((m) => m.p), ['/t/n\0tp\0', '/t/n\0tn\0', '/t/n\0tr\0']);
});

W('@introduceDomain/@releaseDomain: privileged always, guests only with read on the special', () => {
  const { d, dom0, guest } = world();
  const w = new Dom0(d);
  w.send(4, '@introduceDomain\0i\0');
  w.send(4, '@releaseDomain\0r\0');
  const g5 = guest(5);
  assert.equal(w.take().map((m) => m.p), ['@introduceDomain\0i\0']);
  g5.send(4, '@releaseDomain\0g\0');
  assert.equal(g5.recv(), []);
  guest(6);
  d.domainDied(6);
  assert.equal(g5.recv(), []);
  assert.equal(w.take().map((m) => m.p), ['@introduceDomain\0i\0', '@releaseDomain\0r\0']);
  dom0.q(14, '@releaseDomain\0n0\0r5\0');
  guest(7);
  d.domainDied(7);
  assert.equal(g5.recv().map((m) => m.p), ['@releaseDomain\0g\0']);
});

W('XSA-115: no event for a node the watcher cannot read', () => {
  const { dom0, guest } = world();
  const g = guest(5);
  dom0.q(11, '/secret/a\0v');
  g.send(4, '/secret\0s\0');
  dom0.q(11, '/secret/a\0v2');
  assert.equal(g.recv(), []);
  dom0.q(11, '/pub\0v');
  dom0.q(14, '/pub\0n0\0r5\0');
  g.send(4, '/pub\0p\0');
  dom0.q(11, '/pub\0v3');
  assert.equal(g.recv().map((m) => m.p), ['/pub\0p\0']);
});

W('events larger than 4096 bytes are dropped (XSA-324)', () => {
  const a = new Dom0(new Xenstored());
  const token = 't'.repeat(4090);
  const ms = a.send(4, `/big\0${token}\0`);
  assert.equal(ms.map((m) => m.p), ['OK\0', `/big\0${token}\0`]);
  assert.equal(a.send(11, '/big/child\0v').map((m) => m.p), ['OK\0']);
});

W('watch index: a write visits only its ancestors (cost independent of other watches)', () => {
  const d = new Xenstored();
  const a = new Dom0(d);
  for (let i = 0; i < 2000; i++) a.q(4, `/local/domain/${i}/device\0t${i}\0`);
  a.take();
  const ws = d.watches.matching('/local/domain/7/device/vif/0/state');
  assert.is(ws?.length, 1);
  assert.is(d.watches.matching('/local/domain/77777/x'), undefined);
});

W('RESET_WATCHES drops watches and transactions', () => {
  const a = new Dom0(new Xenstored());
  a.q(4, '/r\0t\0');
  const id = Number(a.q(6, '\0').replace('\0', ''));
  assert.is(a.q(21, ''), 'OK\0');
  assert.is(a.q(5, '/r\0t\0'), 'ERR:ENOENT');
  assert.is(a.q(2, '/\0', id), 'ERR:ENOENT');
  assert.is(a.q(6, '\0'), `${id + 1}\0`);
});

W.run();
