// A request that fails changes nothing: the store (paths, values, perms,
// children), the per-domain node accounting, the domain table, every open
// transaction's pending changes and the watch events are exactly as before.
// Hand-written cases per failure class (XSA-414/415 implicit parents, node
// size, transaction-nodes, permissions, XSA-421, XSA-440, INTRODUCE), then a
// fast-check property with a fixed seed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { XS_ERROR, latin1 } from '../../../src/abi/xs_wire.ts';
import { permToString } from '../../../src/dom0/xenstored/perms.ts';
import type { Quotas } from '../../../src/dom0/xenstored/quota.ts';
import type { Xenstored } from '../../../src/dom0/xenstored/xenstored.ts';
import type { XsNode } from '../../../src/dom0/xenstored/tree/store.ts';
import { Dom0, type Guest, type Msg, world } from './helpers.ts';

const WRITE = 11;
const MKDIR = 12;
const RM = 13;
const SET_PERMS = 14;
const READ = 2;
const DIRECTORY = 1;
const WATCH = 4;
const UNWATCH = 5;
const TX_START = 6;
const TX_END = 7;
const INTRODUCE = 8;

function node(n: XsNode): string {
  return `${JSON.stringify(latin1(n.value, 0, n.value.length))} ${n.perms.map(permToString).join(',')} [${n.children.join(',')}] ${n.childLen}`;
}

interface Snap {
  /** Store, accounting, domains, watches: one string. */
  state: string;
  /** Pending changes of each open transaction, by `domid/txid`. */
  txs: Map<string, string>;
}

function snapshot(d: Xenstored): Snap {
  const nodes = [...d.store.nodes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, n]) => `${p} = ${node(n)}`);
  const owned = [...d.store.owned].sort((a, b) => a[0] - b[0]);
  const domains = [...d.domains.all()].map((x) => `${x.domid}:${x.introduced}:${x.generation}:${x.target}:${x.port}`).sort();
  const watches = [...d.connections].map((c) => `${c.domid}:${c.watches.map((w) => `${w.path}|${w.token}`).join(',')}`);
  const txs = new Map<string, string>();
  for (const c of d.connections) {
    for (const [id, t] of c.transactions) {
      const p = t.pending();
      txs.set(`${c.domid}/${id}`, JSON.stringify({
        overlay: p.overlay.map(([k, n]) => `${k} = ${n ? node(n) : '(deleted)'}`),
        changes: p.changes,
        owned: p.owned,
      }));
    }
  }
  return { state: JSON.stringify({ gen: d.store.gen, nodes, owned, domains, watches }, null, 1), txs };
}

/** Store.owned (what the quota checks use) equals the count of nodes each domain owns; never negative. */
function checkAccounting(d: Xenstored): void {
  const real = new Map<number, number>();
  for (const n of d.store.nodes.values()) real.set(n.perms[0]!.id, (real.get(n.perms[0]!.id) ?? 0) + 1);
  const kept = [...d.store.owned].sort((a, b) => a[0] - b[0]);
  assert.equal(kept, [...real].sort((a, b) => a[0] - b[0]), 'node accounting = nodes owned');
  for (const [, n] of kept) assert.ok(n > 0);
}

interface W {
  d: Xenstored;
  dom0: Dom0;
  /** A dom0 connection watching everything. */
  watcher: Dom0;
  g: Guest;
}

function setup(quotas: Partial<Quotas> = {}): W {
  const { d, dom0, guest } = world({ quotas });
  const g = guest(5);
  const watcher = new Dom0(d);
  watcher.send(WATCH, '/\0all\0');
  g.send(WATCH, '/local/domain/5\0home\0');
  watcher.take();
  return { d, dom0, watcher, g };
}

/** Runs a request that must fail with `err` and checks that nothing changed and no event fired. */
function unchanged(w: W, err: string, run: () => Msg[], endedTx?: string): void {
  const before = snapshot(w.d);
  w.watcher.take();
  const ms = run();
  assert.equal(ms.map((m) => [m.type, m.p]), [[XS_ERROR, `${err}\0`]], 'only the error reply, no events');
  const after = snapshot(w.d);
  assert.fixture(after.state, before.state);
  if (endedTx) before.txs.delete(endedTx);
  assert.equal([...after.txs], [...before.txs]);
  assert.equal(w.watcher.take(), [], 'no events for other connections');
  checkAccounting(w.d);
}

const ok = (ms: Msg[]) => ms.filter((m) => m.type !== 15).pop()?.p;

const A = suite('atomic: a failed request changes nothing');

A('node quota hit part-way through implicit parents (XSA-414/415), outside and inside a transaction', () => {
  const w = setup({ nodes: 5 });
  const { g } = w;
  assert.is(g.q(WRITE, 'a\0v'), 'OK\0'); // home + a = 2
  unchanged(w, 'ENOSPC', () => g.send(WRITE, 'b/c/d/e\0v')); // 4 more → 6 > 5
  unchanged(w, 'ENOSPC', () => g.send(MKDIR, 'b/c/d/e\0'));
  // Inside a transaction the domain's committed count is checked per request
  // and the final one at commit (cxenstored: create_node's domain_nbentry,
  // then transaction_fix_domains, which wants it below the quota).
  const tx = Number.parseInt(g.q(TX_START, '\0'));
  assert.is(g.q(WRITE, 'x\0v', tx), 'OK\0');
  assert.is(g.q(WRITE, 'b/c/d\0v', tx), 'OK\0'); // 6 in the tx's view
  assert.is(g.q(TX_END, 'T\0', tx), 'ERR:ENOSPC');
  assert.is(g.q(DIRECTORY, '/local/domain/5\0'), 'a\0');
  assert.is(w.d.store.ownedBy(5), 2);
  const tx2 = Number.parseInt(g.q(TX_START, '\0'));
  assert.is(g.q(WRITE, 'x\0v', tx2), 'OK\0');
  assert.is(g.q(WRITE, 'b\0v', tx2), 'OK\0'); // 4 after commit
  assert.is(g.q(TX_END, 'T\0', tx2), 'OK\0');
  assert.is(g.q(DIRECTORY, '/local/domain/5\0'), 'a\0x\0b\0');
  assert.is(g.q(WRITE, 'c\0v'), 'OK\0'); // outside: up to the quota itself
  assert.is(w.d.store.ownedBy(5), 5);
  // At the quota: a new node inside a transaction is refused at once; a rewrite commits.
  const tx3 = Number.parseInt(g.q(TX_START, '\0'));
  unchanged(w, 'ENOSPC', () => g.send(WRITE, 'y\0v', tx3));
  unchanged(w, 'ENOSPC', () => g.send(MKDIR, 'y/z\0', tx3));
  assert.is(g.q(WRITE, 'a\0v2', tx3), 'OK\0');
  assert.is(g.q(TX_END, 'T\0', tx3), 'OK\0');
  assert.is(w.d.store.ownedBy(5), 5);
  checkAccounting(w.d);
});

A('node-size quota: value, a parent whose child list would overflow, SET_PERMS (no domain allocated)', () => {
  const w = setup({ nodeSize: 100 });
  const { d, g } = w;
  // home n5 r0: 24 + 16 = 40 bytes of header
  unchanged(w, 'ENOSPC', () => g.send(WRITE, `v\0${'x'.repeat(60)}`));
  assert.is(g.q(WRITE, `v\0${'x'.repeat(55)}`), 'OK\0');
  // a third perm entry makes the record 103 bytes; the domain it names must not appear
  unchanged(w, 'ENOSPC', () => g.send(SET_PERMS, 'v\0n5\0r0\0r77\0'));
  assert.is(d.domains.get(77), undefined);
  // dir's child list: the new child's name does not fit; nothing below is created either
  assert.is(g.q(MKDIR, 'dir\0'), 'OK\0');
  unchanged(w, 'ENOSPC', () => g.send(WRITE, `dir/${'n'.repeat(60)}/deep/er\0v`));
  // a new intermediate node whose only child's name is too long
  unchanged(w, 'ENOSPC', () => g.send(WRITE, `dir/m/${'k'.repeat(59)}\0v`));
  const tx = Number.parseInt(g.q(TX_START, '\0'));
  unchanged(w, 'ENOSPC', () => g.send(WRITE, `dir/${'n'.repeat(60)}/deep\0v`, tx));
  unchanged(w, 'ENOSPC', () => g.send(SET_PERMS, 'v\0n5\0r0\0r77\0', tx));
  assert.is(d.domains.get(77), undefined);
  // write_node's quota failed inside the transaction: the commit fails (cxenstored).
  assert.is(g.q(TX_END, 'T\0', tx), 'ERR:ENOMEM');
});

A('transaction-nodes quota: checked before a node is recorded; a part-done RM is undone; dom0 exempt', () => {
  const w = setup({ transactionNodes: 6 });
  const { g, dom0 } = w;
  for (let i = 1; i <= 5; i++) assert.is(g.q(WRITE, `big/c${i}\0v`), 'OK\0');
  const tx = Number.parseInt(g.q(TX_START, '\0'));
  assert.is(g.q(WRITE, 'p\0v', tx), 'OK\0'); // touched: p, home
  // RM reads big (3) and removes c1 (4), c2 (5), c3 (6); c4 would be the 7th node
  unchanged(w, 'ENOSPC', () => g.send(RM, 'big\0', tx));
  // now at the limit: a new node fails, also for a read (as cxenstored's access_node)
  unchanged(w, 'ENOSPC', () => g.send(WRITE, 'q\0v', tx));
  unchanged(w, 'ENOSPC', () => g.send(READ, 'big/c5\0', tx));
  // nodes already touched are still usable, but the transaction is doomed
  // (access_node's error path sets trans->fail): its commit answers ENOMEM
  assert.is(g.q(WRITE, 'p\0v2', tx), 'OK\0');
  assert.is(g.q(READ, 'big/c1\0', tx), 'v');
  w.watcher.take();
  assert.is(g.q(TX_END, 'T\0', tx), 'ERR:ENOMEM');
  assert.equal(w.watcher.take(), []);
  assert.is(g.q(DIRECTORY, 'big\0'), 'c1\0c2\0c3\0c4\0c5\0');
  assert.is(g.q(READ, 'p\0'), 'ERR:ENOENT');
  // dom0 is not limited
  const t0 = Number.parseInt(dom0.q(TX_START, '\0'));
  for (let i = 0; i < 10; i++) assert.is(dom0.q(WRITE, `/d0/n${i}\0v`, t0), 'OK\0');
  assert.is(dom0.q(TX_END, 'T\0', t0), 'OK\0');
  checkAccounting(w.d);
});

A('permission failures after implicit parents were found missing: EACCES, nothing created', () => {
  const w = setup();
  const { g, dom0 } = w;
  dom0.q(MKDIR, '/local/domain/5/ro\0');
  dom0.q(SET_PERMS, '/local/domain/5/ro\0n0\0r5\0');
  dom0.q(MKDIR, '/local/domain/6\0');
  g.recv(); // the guest's watch saw ro being made
  unchanged(w, 'EACCES', () => g.send(WRITE, 'ro/x/y\0v'));
  unchanged(w, 'EACCES', () => g.send(MKDIR, 'ro/x/y\0'));
  unchanged(w, 'EACCES', () => g.send(WRITE, '/local/domain/6/a/b\0v'));
  unchanged(w, 'EACCES', () => g.send(RM, 'ro\0'));
  unchanged(w, 'EACCES', () => g.send(SET_PERMS, 'ro\0n0\0b5\0'));
  unchanged(w, 'EPERM', () => g.send(SET_PERMS, '/local/domain/5\0n6\0'));
  const tx = Number.parseInt(g.q(TX_START, '\0'));
  assert.is(g.q(WRITE, 'ok\0v', tx), 'OK\0');
  unchanged(w, 'EACCES', () => g.send(WRITE, 'ro/x/y\0v', tx));
  unchanged(w, 'EACCES', () => g.send(RM, 'ro\0', tx));
  unchanged(w, 'EINVAL', () => g.send(TX_END, 'X\0', tx));
  assert.is(g.q(TX_END, 'T\0', tx), 'OK\0');
  // dom0: SET_PERMS naming a reserved owner allocates none of the other domains
  unchanged(w, 'ENOENT', () => dom0.send(SET_PERMS, '/local/domain/5/ro\0n32752\0r88\0'));
  assert.is(w.d.domains.get(88), undefined);
});

A('watch requests that fail change nothing', () => {
  const w = setup({ watches: 1 });
  const { g } = w;
  unchanged(w, 'EEXIST', () => g.send(WATCH, '/local/domain/5\0home\0'));
  assert.is(g.q(WATCH, 'x\0t\0'), 'OK\0');
  unchanged(w, 'E2BIG', () => g.send(WATCH, 'y\0t\0'));
  unchanged(w, 'ENOENT', () => g.send(UNWATCH, 'y\0t\0'));
});

A('INTRODUCE that cannot map the ring leaves no domain behind', () => {
  const w = setup();
  unchanged(w, 'ENOENT', () => w.dom0.send(INTRODUCE, '9\x001\x001\0'));
  assert.is(w.d.domains.get(9), undefined);
  unchanged(w, 'EINVAL', () => w.dom0.send(INTRODUCE, '9\x001\x000\0'));
});

A('XSA-421: creating and deleting nodes in one transaction keeps accounting exact', () => {
  const w = setup({ nodes: 10 });
  const { d, g } = w;
  const tx = Number.parseInt(g.q(TX_START, '\0'));
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 8; i++) assert.is(g.q(WRITE, `r${round}/n${i}\0v`, tx), 'OK\0');
    assert.is(g.q(RM, `r${round}\0`, tx), 'OK\0');
  }
  assert.is(g.q(TX_END, 'T\0', tx), 'OK\0');
  assert.is(d.store.ownedBy(5), 1);
  checkAccounting(d);
  // Over the quota inside a transaction: the commit fails (transaction_fix_domains).
  const tx2 = Number.parseInt(g.q(TX_START, '\0'));
  for (let i = 0; i < 10; i++) assert.is(g.q(WRITE, `r/n${i}\0v`, tx2), 'OK\0');
  assert.is(g.q(TX_END, 'T\0', tx2), 'ERR:ENOSPC');
  assert.is(d.store.ownedBy(5), 1);
  checkAccounting(d);
  for (let i = 0; i < 9; i++) assert.is(g.q(WRITE, `n${i}\0v`), 'OK\0');
  unchanged(w, 'ENOSPC', () => g.send(WRITE, 'n9\0v'));
});

A('XSA-440: two conflicting transactions deleting the same nodes; accounting never negative', () => {
  const w = setup();
  const { d, g, dom0 } = w;
  assert.is(g.q(WRITE, 'd/e/f\0v'), 'OK\0');
  assert.is(d.store.ownedBy(5), 4);
  const t1 = Number.parseInt(g.q(TX_START, '\0'));
  const t2 = Number.parseInt(g.q(TX_START, '\0'));
  const t3 = Number.parseInt(dom0.q(TX_START, '\0'));
  for (const [c, t] of [[g, t1], [g, t2], [dom0, t3]] as const) assert.is(c.q(RM, '/local/domain/5/d\0', t), 'OK\0');
  assert.is(g.q(TX_END, 'T\0', t1), 'OK\0');
  assert.is(d.store.ownedBy(5), 1);
  unchanged(w, 'EAGAIN', () => g.send(TX_END, 'T\0', t2), `5/${t2}`);
  unchanged(w, 'EAGAIN', () => dom0.send(TX_END, 'T\0', t3), `0/${t3}`);
  assert.is(d.store.ownedBy(5), 1);
  checkAccounting(d);
});

// ------------------------------------------------------------ property

type Req = { type: number; payload: string; inTx: boolean };

const PATHS = ['a', 'a/b', 'a/b/c', 'a/b/c/d', 'e/f/g/h', 'ro', 'ro/x', '/local/domain/6/z', '/local/domain/5', 'big', 'big/k1'];
const VALUES = ['', 'v', 'x'.repeat(40), 'y'.repeat(80)];
const PERMS = ['n5', 'n5\0r0', 'n5\0r0\0r77\0b6', 'n6', 'n5\0r1\0r2\0r3\0r4\0r6', 'n0'];

const req: fc.Arbitrary<Req> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom(...VALUES), fc.boolean()).map(([p, v, inTx]) => ({ type: WRITE, payload: `${p}\0${v}`, inTx })) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(MKDIR, RM, READ), fc.constantFrom(...PATHS), fc.boolean()).map(([type, p, inTx]) => ({ type, payload: `${p}\0`, inTx })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom(...PERMS), fc.boolean()).map(([p, perms, inTx]) => ({ type: SET_PERMS, payload: `${p}\0${perms}\0`, inTx })) },
  { weight: 1, arbitrary: fc.constant({ type: TX_START, payload: '\0', inTx: false }) },
  { weight: 1, arbitrary: fc.constantFrom('T\0', 'F\0', 'X\0').map((e) => ({ type: TX_END, payload: e, inTx: true })) },
);

/** Guest 5 near its quotas: a read-only dir `ro`, another domain's home, a subtree `big` it owns. */
function propWorld(): W {
  const w = setup({ nodes: 8, transactionNodes: 6, nodeSize: 120, transactions: 2 });
  const { dom0, g } = w;
  dom0.q(MKDIR, '/local/domain/5/ro\0');
  dom0.q(SET_PERMS, '/local/domain/5/ro\0n0\0r5\0');
  dom0.q(MKDIR, '/local/domain/6\0');
  dom0.q(WRITE, '/local/domain/5/big/k1\0v');
  dom0.q(SET_PERMS, '/local/domain/5/big\0n5\0');
  dom0.q(SET_PERMS, '/local/domain/5/big/k1\0n5\0');
  w.watcher.take();
  g.recv();
  return w;
}

A('property: near its quotas, every failed guest request leaves everything unchanged; accounting exact', () => {
  fc.assert(
    fc.property(fc.array(req, { minLength: 1, maxLength: 40 }), (reqs) => {
      const w = propWorld();
      const { d, g } = w;
      checkAccounting(d);
      const open: number[] = [];
      for (const r of reqs) {
        const tx = r.inTx ? (open[open.length - 1] ?? 0) : 0;
        if (r.type === TX_END && tx === 0) continue;
        const before = snapshot(d);
        w.watcher.take();
        const ms = g.send(r.type, r.payload, tx);
        const reply = ms.filter((m) => m.type !== 15);
        assert.is(reply.length, 1);
        if (reply[0]!.type === XS_ERROR) {
          assert.is(ms.length, 1, `no events with ${reply[0]!.p}`);
          assert.equal(w.watcher.take(), []);
          const after = snapshot(d);
          assert.fixture(after.state, before.state);
          if (r.type === TX_END && reply[0]!.p !== 'EINVAL\0') before.txs.delete(`5/${tx}`);
          assert.equal([...after.txs], [...before.txs]);
        }
        if (r.type === TX_START && reply[0]!.type !== XS_ERROR) open.push(Number.parseInt(reply[0]!.p));
        if (r.type === TX_END && reply[0]!.p !== 'EINVAL\0') open.splice(open.indexOf(tx), 1);
        checkAccounting(d);
      }
    }),
    { seed: 20261125, numRuns: 300 },
  );
});

A('property sanity: the random requests do hit every failure class', () => {
  // Guards the property above against silently testing only successes.
  const seen = new Set<string>();
  const samples = fc.sample(fc.array(req, { minLength: 1, maxLength: 40 }), { seed: 20261125, numRuns: 300 });
  for (const reqs of samples) {
    const { g } = propWorld();
    const open: number[] = [];
    for (const r of reqs) {
      const tx = r.inTx ? (open[open.length - 1] ?? 0) : 0;
      if (r.type === TX_END && tx === 0) continue;
      const p = ok(g.send(r.type, r.payload, tx)) ?? '';
      if (r.type === TX_START && /^\d/.test(p)) open.push(Number.parseInt(p));
      if (r.type === TX_END && p !== 'EINVAL\0') open.splice(open.indexOf(tx), 1);
      if (!p.startsWith('OK') && !/^\d/.test(p) && r.type !== READ) seen.add(`${r.type}${tx ? 'tx' : ''}:${p}`);
    }
  }
  for (const k of ['11:ENOSPC\0', '11tx:ENOSPC\0', '11:EACCES\0', '13tx:ENOSPC\0', '14:ENOSPC\0', '14:EPERM\0']) {
    assert.ok(seen.has(k), `${k} never happened: ${[...seen].sort().join(' ')}`);
  }
});

A.run();
