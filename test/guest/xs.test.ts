// The guest xenstore client (src/guest/xs.ts) against the real daemon over an
// in-process ring page (xs_world.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { XS_RING_REQ_CONS, XS_RING_REQ_PROD, XS_RING_RSP_CONS, XS_RING_RSP_PROD, XsRing } from '../../src/abi/xs_wire.ts';
import * as Lwt from '../../src/guest/lwt.ts';
import { XsError, XsProtocolError } from '../../src/guest/xs.ts';
import { world } from './xs_world.ts';

const X = suite('guest xs client');
X.before.each(() => Lwt.reset());

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

X('read, write (relative and absolute), directory, mkdir, rm', async () => {
  const { xs, dom0, drive, home } = world();
  assert.is(await drive(xs.read('name')), 'guest5');
  assert.is(await drive(xs.read(`${home}/domid`)), '5');
  await drive(xs.write('data/a', 'héllo wörld ✓'));
  assert.is(dom0.read(`${home}/data/a`), 'héllo wörld ✓');
  assert.is(await drive(xs.read('data/a')), 'héllo wörld ✓');
  await drive(xs.write('data/empty', ''));
  assert.is(await drive(xs.read('data/empty')), '');
  await drive(xs.mkdir('data/dir/sub'));
  await drive(xs.write('data/dir/x', '1'));
  assert.equal(await drive(xs.directory('data/dir')), ['sub', 'x']);
  assert.equal(await drive(xs.directory('data/dir/sub')), []);
  await drive(xs.rm('data/dir'));
  assert.is(dom0.read(`${home}/data/dir`), undefined);
  assert.equal(await drive(xs.directory('data')), ['a', 'empty']);
  assert.is(await drive(xs.tryRead('data/dir/x')), undefined);
  const bytes = await drive(xs.readBytes('data/a'));
  assert.is(bytes.length, new TextEncoder().encode('héllo wörld ✓').length);
  assert.is(await drive(xs.getDomainPath(5)), '/local/domain/5');
  assert.is(await drive(xs.getDomainPath(0)), '/local/domain/0');
});

X('permissions: get and set; the guest owns what it creates', async () => {
  const { xs, drive } = world();
  await drive(xs.write('data/p', 'v'));
  assert.equal(await drive(xs.getPerms('data/p')), [{ perm: 'n', domid: 5 }]);
  await drive(xs.setPerms('data/p', ['n5', { perm: 'r', domid: 0 }, 'b7']));
  assert.equal(await drive(xs.getPerms('data/p')), [{ perm: 'n', domid: 5 }, { perm: 'r', domid: 0 }, { perm: 'b', domid: 7 }]);
  assert.equal(await drive(xs.getPerms('name')), [{ perm: 'n', domid: 0 }, { perm: 'r', domid: 5 }]);
});

X('errors carry Xen names: ENOENT, EACCES, EINVAL, EPERM', async () => {
  const { xs, drive } = world();
  const e1 = await rejects(drive(xs.read('data/missing')));
  assert.instance(e1, XsError);
  assert.is((e1 as XsError).errno, 'ENOENT');
  assert.is((e1 as XsError).code, 'ENOENT');
  assert.is((e1 as XsError).op, 'READ');
  assert.is((e1 as XsError).path, 'data/missing');
  assert.match(String((e1 as Error).message), /READ data\/missing: ENOENT/);
  assert.is(((await rejects(drive(xs.read('/tool/xenstored')))) as XsError).errno, 'EACCES');
  assert.is(((await rejects(drive(xs.write('/tool/x', 'v')))) as XsError).errno, 'EACCES');
  assert.is(((await rejects(drive(xs.read('bad//path')))) as XsError).errno, 'EINVAL');
  await drive(xs.write('data/q', 'v'));
  assert.is(((await rejects(drive(xs.setPerms('data/q', ['n6'])))) as XsError).errno, 'EPERM');
  // the client is still fine afterwards
  assert.is(await drive(xs.read('data/q')), 'v');
});

X('watch: initial event, events on changes by dom0, UNWATCH on unsubscribe', async () => {
  const { xs, d, dom0, drive, settle, home } = world();
  const seen: string[] = [];
  const sub = xs.watch('data/cmd').subscribe({ next: (p) => seen.push(p), error: (e) => seen.push(`error ${e}`) });
  await settle();
  assert.equal(seen, ['data/cmd']); // the initial event, relative as registered
  dom0.write(`${home}/data/cmd`, 'go');
  await settle();
  dom0.write(`${home}/data/cmd/child`, 'x');
  dom0.write(`${home}/data/other`, 'x');
  await settle();
  assert.equal(seen, ['data/cmd', 'data/cmd', 'data/cmd/child']);
  const abs: string[] = [];
  const sub2 = xs.watch(`${home}/data`).subscribe((p) => abs.push(p));
  await settle();
  const conn = [...d.connections].find((c) => c.domid === 5)!;
  assert.is(conn.watches.length, 2);
  sub.unsubscribe();
  await settle();
  assert.is(conn.watches.length, 1);
  dom0.write(`${home}/data/cmd`, 'again');
  await settle();
  assert.equal(seen, ['data/cmd', 'data/cmd', 'data/cmd/child']);
  assert.equal(abs, [`${home}/data`, `${home}/data/cmd`]);
  sub2.unsubscribe();
  await drive(xs.write('data/z', '1'));
  assert.is(conn.watches.length, 0);
});

X('watch errors: a bad path errors the Observable', async () => {
  const { xs, settle } = world();
  let err: unknown;
  xs.watch('bad//path').subscribe({ error: (e) => (err = e) });
  await settle();
  assert.instance(err, XsError);
  assert.is((err as XsError).errno, 'EINVAL');
});

X('transaction: commit, isolation, abort on throw', async () => {
  const { xs, dom0, drive, home } = world();
  const v = await drive(
    xs.transaction((t) =>
      t.write('data/t1', 'a').bind_(() => t.write('data/t2', 'b')).bind_(() => {
        // not visible outside until commit
        assert.is(dom0.read(`${home}/data/t1`), undefined);
        return t.read('data/t1');
      }),
    ),
  );
  assert.is(v, 'a');
  assert.is(dom0.read(`${home}/data/t2`), 'b');
  const e = await rejects(
    drive(
      xs.transaction(async (t) => {
        await t.write('data/t3', 'c');
        throw new Error('nope');
      }),
    ),
  );
  assert.is((e as Error).message, 'nope');
  assert.is(dom0.read(`${home}/data/t3`), undefined);
  // the aborted transaction is gone: a new one works (async body)
  const r = await drive(
    xs.transaction(async (t) => {
      const x = await t.read('data/t1');
      await t.write('data/t1', x + '!');
      return x;
    }),
  );
  assert.is(r, 'a');
  assert.is(dom0.read(`${home}/data/t1`), 'a!');
});

X('transaction: EAGAIN on a conflicting write, retried until it commits', async () => {
  const { xs, dom0, drive, home } = world();
  dom0.write(`${home}/data/counter`, '0');
  dom0.ok(14, [`${home}/data/counter`, 'n5']);
  const attempts: number[] = [];
  const out = await drive(
    xs.transaction((t, attempt) => {
      attempts.push(attempt);
      return t.read('data/counter').bind_((v) => {
        // Another writer sneaks in during the first two attempts.
        if (attempt < 2) dom0.write(`${home}/data/counter`, String(Number(v) + 10));
        return t.write('data/counter', String(Number(v) + 1)).map_(() => Number(v) + 1);
      });
    }),
  );
  assert.equal(attempts, [0, 1, 2]);
  assert.is(out, 21);
  assert.is(dom0.read(`${home}/data/counter`), '21');
});

X('a reply split across the ring wrap (and the u32 index wrap)', async () => {
  const start = 0xffffff00; // both rings start 256 bytes before 2^32
  const { xs, page, drive } = world({
    initPage: (p) => {
      const r = new XsRing(p);
      for (const o of [XS_RING_REQ_CONS, XS_RING_REQ_PROD, XS_RING_RSP_CONS, XS_RING_RSP_PROD]) r.set(o, start);
    },
  });
  const ring = new XsRing(page);
  const value = Array.from({ length: 900 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  await drive(xs.write('data/wrap', value));
  const before = ring.get(XS_RING_RSP_CONS);
  assert.is(await drive(xs.read('data/wrap')), value);
  const after = ring.get(XS_RING_RSP_CONS);
  // the reply (16 + 900 bytes) started before offset 1024 of the ring and ended after it
  assert.ok((before & 1023) + 916 > 1024, `before ${before & 1023}`);
  assert.is((after - before) >>> 0, 916);
  assert.ok(after < start, 'rsp_cons wrapped past 2^32');
  assert.ok(ring.get(XS_RING_REQ_PROD) < start, 'req_prod wrapped past 2^32');
});

X('a reply larger than the ring is read in pieces', async () => {
  const { xs, dom0, drive, home } = world();
  const big = 'x'.repeat(4000);
  dom0.write(`${home}/big`, big);
  const chunks0 = xs.stats.readChunks;
  assert.is(await drive(xs.read('big')), big);
  assert.ok(xs.stats.readChunks - chunks0 >= 4, `chunks ${xs.stats.readChunks - chunks0}`);
  // a request larger than the ring goes out in pieces too
  const big2 = 'y'.repeat(2000);
  await drive(xs.write('data/big2', big2));
  assert.ok(xs.stats.writeWaits > 0);
  assert.is(dom0.read(`${home}/data/big2`), big2);
});

X('many requests in flight, replies dispatched by req_id', async () => {
  const { xs, dom0, drive, home } = world();
  const N = 200;
  const writes = Array.from({ length: N }, (_, i) => xs.write(`data/k${i}`, `value-${i}`));
  assert.is(xs.inFlight, N);
  await drive(Lwt.all(writes));
  assert.is(dom0.read(`${home}/data/k137`), 'value-137');
  const mixed: Lwt.Lwt<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    mixed.push(xs.read(`data/k${i}`));
    if (i % 10 === 0) mixed.push(Lwt.catch_(() => xs.read(`data/none${i}`), (e) => (e as XsError).errno));
  }
  const vals = await drive(Lwt.all(mixed));
  const expect: unknown[] = [];
  for (let i = 0; i < N; i++) {
    expect.push(`value-${i}`);
    if (i % 10 === 0) expect.push('ENOENT');
  }
  assert.equal(vals, expect);
  assert.ok(xs.stats.writeWaits > 0, 'the request ring filled up');
  assert.is(xs.inFlight, 0);
});

X('a directory over 4096 bytes: E2BIG, then DIRECTORY_PART chunks', async () => {
  const { xs, dom0, drive, home } = world();
  const names = Array.from({ length: 600 }, (_, i) => `child-with-a-long-name-${String(i).padStart(4, '0')}`);
  for (const n of names) dom0.ok(12, [`${home}/many/${n}`]);
  assert.is(dom0.q(1, [`${home}/many`]).error, 'E2BIG');
  const r0 = xs.stats.requests;
  const got = await drive(xs.directory('many'));
  assert.equal(got, names);
  assert.ok(xs.stats.requests - r0 >= 1 + 4, `requests ${xs.stats.requests - r0}`);
  // inside a transaction too
  const inTx = await drive(xs.transaction((t) => t.directory(`${home}/many`)));
  assert.is(inTx.length, 600);
});

X('E2BIG for a request over 4096 bytes, without sending it', async () => {
  const { xs, drive } = world();
  const e = await rejects(drive(xs.write('data/huge', 'z'.repeat(5000))));
  assert.is((e as XsError).errno, 'E2BIG');
  assert.is(await drive(xs.read('name')), 'guest5');
});

X('daemon + client stay consistent with interleaved watches and requests', async () => {
  const { xs, dom0, drive, settle, home } = world();
  const seen: string[] = [];
  xs.watch('data').subscribe((p) => seen.push(p));
  await settle();
  const ps: Lwt.Lwt<void>[] = [];
  for (let i = 0; i < 30; i++) {
    ps.push(xs.write(`data/w${i}`, String(i)));
    if (i % 5 === 0) dom0.write(`${home}/data/d${i}`, 'x');
  }
  await drive(Lwt.all(ps));
  await settle();
  assert.is(seen.length, 1 + 30 + 6);
  assert.is(seen.filter((p) => p.startsWith('data/d')).length, 6);
});

X.run();
