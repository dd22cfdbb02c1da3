// Differential tests for unprivileged guests at the edges (guest_diff.ts):
// failures inside transactions and the node and memory quotas (small quotas
// on both daemons), many requests queued on a ring, malformed payloads for
// every message type.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import {
  XS_RING_REQ, XS_RING_REQ_CONS, XS_RING_REQ_PROD, XS_RING_RSP, XS_RING_RSP_CONS, XS_RING_RSP_PROD, XsFrameReader, XsRing, encodeMessage,
} from '../../../src/abi/xs_wire.ts';
import { Xenstored } from '../../../src/dom0/xenstored/xenstored.ts';
import { Dom0, Guest } from './helpers.ts';
import { RawClient } from './rawclient.ts';
import { needs, refMissing, startRef, timed, type RefDaemon } from './kit.ts';
import { bytesOf, compare, type Step } from './guest_diff.ts';

const DE = suite('differential (guests, edges) vs cxenstored');
const withRef = needs(DE, refMissing());

// Failures inside a transaction, with small quotas on both daemons (nodes 20,
// node-size 256, transaction-nodes 12): permission, argument and perm-count
// errors fail only the request; the node-size, node-count and
// transaction-nodes quotas also doom the transaction (cxenstored:
// write_node → fail_transaction, access_node's error path), so its commit
// answers ENOMEM and nothing of it lands.
const TX_FAILURES: Step[] = [
  ['intro', 5],
  [5, 6, '\0'], [5, 2, 'nope\0', 1], [5, 7, 'T\0', 1],
  [5, 6, '\0'], [5, 11, '/tool/x\0v', 2], [5, 11, 'ok\0v', 2], [5, 7, 'T\0', 2], [5, 2, 'ok\0'],
  [5, 6, '\0'], [5, 11, 'big\0' + 'x'.repeat(300), 3], [5, 11, 'ok2\0v', 3], [5, 7, 'T\0', 3], [5, 2, 'ok2\0'],
  [5, 6, '\0'], [5, 13, 'nope\0', 4], [5, 7, 'T\0', 4],
  [5, 6, '\0'], [5, 12, '/tool/y\0', 5], [5, 7, 'T\0', 5],
  [5, 6, '\0'], [5, 14, '/tool/xenstored\0n5\0', 6], [5, 7, 'T\0', 6],
  [5, 6, '\0'], [5, 14, 'ok\0n5\0r1\0r2\0r3\0r4\0r6\0', 7], [5, 7, 'T\0', 7],
  [5, 6, '\0'], ...Array.from({ length: 16 }, (_, i): Step => [5, 2, `t/n${i}\0`, 8]), [5, 7, 'T\0', 8],
  ...Array.from({ length: 15 }, (_, i): Step => [5, 11, `u/n${i}\0v`]),
  [5, 6, '\0'], [5, 11, 'u/x\0v', 9], [5, 11, 'u/y\0v', 9], [5, 11, 'u/z\0v', 9], [5, 11, 'u/w\0v', 9], [5, 7, 'T\0', 9],
  [5, 6, '\0'], [5, 11, 'u/x\0v', 10], [5, 13, 'u/x\0', 10], [5, 7, 'T\0', 10],
];

withRef('failures inside a transaction: which ones fail the commit (small quotas)', timed(async () => {
  await compare(TX_FAILURES, { nodes: 20, nodeSize: 256, transactionNodes: 12 });
}));

// The node quota inside transactions (quota 20): requests are checked against
// the committed count only, the commit against the count it would leave
// (cxenstored: create_node's domain_nbentry, transaction_fix_domains).
const TX_NODE_QUOTA: Step[] = [
  ['intro', 5],
  ...Array.from({ length: 10 }, (_, i): Step => [5, 11, `u/n${i}\0v`]),
  [5, 6, '\0'], ...Array.from({ length: 8 }, (_, i): Step => [5, 11, `u/t${i}\0v`, 1]), [5, 7, 'T\0', 1], [5, 1, 'u\0'],
  [5, 6, '\0'], [5, 11, 'u/z\0v', 2], [5, 11, 'u/n0\0w', 2], [5, 7, 'T\0', 2],
  ...Array.from({ length: 7 }, (_, i): Step => [5, 11, `u/m${i}\0v`]),
  [5, 6, '\0'], [5, 11, 'y\0v', 3], [5, 12, 'y/z\0', 3], [5, 11, 'u/n0\0x', 3], [5, 7, 'T\0', 3], [5, 2, 'u/n0\0'],
  [5, 6, '\0'], [5, 13, 'u/n1\0', 4], [5, 11, 'y\0v', 4], [5, 7, 'T\0', 4],
  [5, 6, '\0'], [5, 13, 'u/n2\0', 5], [5, 7, 'T\0', 5],
  [5, 6, '\0'], [5, 11, 'y2\0v', 6], [5, 7, 'T\0', 6],
];

withRef('node quota inside transactions: per request, then at commit (small quota)', timed(async () => {
  await compare(TX_NODE_QUOTA, { nodes: 20 });
}));

/**
 * Many requests queued at once on a ring whose replies the guest does not
 * consume: how far each daemon takes requests off (req_cons) and fills rsp
 * (rsp_prod); then the guest consumes everything and kicks until all `n`
 * replies arrived. cxenstored reads one request at a time and stops while 20
 * replies wait for room in rsp (domain_can_read, the outstanding quota).
 */
async function queuedRing(n: number, valueLen: number, ref: RefDaemon | undefined): Promise<string[]> {
  const out: string[] = [];
  let page: Uint8Array;
  let sync: { load(): void; store(off: number, len: number): void };
  let kick: () => void;
  let intro: () => Promise<unknown>;
  let dom0: (t: number, p: string) => Promise<unknown>;
  let close = () => {};
  if (ref) {
    const fx = path.join(ref.dir, 'fakexen');
    const c = await RawClient.connect(ref.socket);
    const file = path.join(fx, 'ring-5');
    fs.writeFileSync(file, new Uint8Array(4096));
    const fd = fs.openSync(file, 'r+');
    const fifo = fs.openSync(path.join(fx, 'evtchn'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    page = new Uint8Array(4096);
    const pg = page;
    sync = { load: () => void fs.readSync(fd, pg, 0, 4096, 0), store: (off, len) => void fs.writeSync(fd, pg, off, len, off) };
    kick = () => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, 1005, true);
      fs.writeSync(fifo, b);
    };
    dom0 = (t, p) => c.req(t, p);
    intro = () => c.req(8, '5\x001\x001\0');
    close = () => {
      c.close();
      fs.closeSync(fd);
      fs.closeSync(fifo);
    };
  } else {
    const guests = new Map<number, Guest>();
    const d = new Xenstored({ mapRing: (domid) => guests.get(domid)?.mapping() ?? -2 });
    const g = new Guest(d, 5);
    guests.set(5, g);
    const c = new Dom0(d);
    page = new Uint8Array(g.page);
    sync = { load: () => {}, store: () => {} };
    kick = () => d.kick(5);
    dom0 = async (t, p) => c.send(t, p);
    intro = async () => c.send(8, '5\x001\x001\0');
  }
  const ring = new XsRing(page);
  await dom0(11, `/local/domain/5/v\0${'x'.repeat(valueLen)}`);
  await dom0(14, '/local/domain/5\0n5\0r0\0');
  await dom0(14, '/local/domain/5/v\0n5\0r0\0');
  await intro();
  const frames = new Uint8Array(n * 18);
  for (let i = 0; i < n; i++) frames.set(encodeMessage(2, i, 0, bytesOf('v\0')), i * 18);
  sync.load();
  const wrote = ring.write(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS, frames);
  sync.store(XS_RING_REQ, 1024);
  sync.store(XS_RING_REQ_PROD, 4);
  kick();
  // The reference answers asynchronously: wait until its indices stop moving.
  let last = '';
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, ref ? 20 : 0));
    sync.load();
    const now = `${ring.get(XS_RING_REQ_CONS)}/${ring.get(XS_RING_RSP_PROD)}`;
    if (now === last && i > 3) break;
    last = now;
  }
  out.push(`wrote ${wrote}: req_cons ${ring.get(XS_RING_REQ_CONS)} (${ring.get(XS_RING_REQ_CONS) / 18} requests), rsp_prod ${ring.get(XS_RING_RSP_PROD)}`);
  // Now the guest reads everything, kicking after each read, until n replies came.
  const reader = new XsFrameReader();
  const ids: number[] = [];
  const deadline = Date.now() + 5000;
  while (ids.length < n && Date.now() < deadline) {
    sync.load();
    const b = ring.read(XS_RING_RSP, XS_RING_RSP_PROD, XS_RING_RSP_CONS);
    if (b && b.length) {
      sync.store(XS_RING_RSP_CONS, 4);
      reader.push(b);
      for (let m = reader.next(); m; m = reader.next()) ids.push(m.reqId);
    }
    kick();
    if (ref) await new Promise((r) => setTimeout(r, 2));
  }
  out.push(`replies ${ids.length}, in order: ${ids.every((id, i) => id === i)}`);
  close();
  return out;
}

withRef('many requests queued at once on a ring: taken off one at a time, up to the outstanding quota', timed(async () => {
  for (const [n, len] of [[40, 100], [40, 10], [56, 300]] as const) {
    const ref = await startRef('cxenstored');
    if (typeof ref === 'string') throw new Error(ref);
    try {
      const theirs = await queuedRing(n, len, ref);
      assert.equal(await queuedRing(n, len, undefined), theirs, `${n} requests, ${len}-byte replies`);
    } finally {
      await ref.stop();
    }
  }
}));

/** Malformed payloads (as differential.test.ts): every message type from an unprivileged guest. */
const MALFORMED = ['', 'x', '\0', 'm\0', 'm\0b\0c\0d\0', '\xff\xfe\0', '//m\0', '@x\0', '5\0', '7\x003\0', `${'a'.repeat(3000)}\0`];
const ONEARG = new Set([1, 2, 3, 12, 13]);

withRef('malformed payloads for every message type (ring)', timed(async () => {
  const steps: Step[] = [['intro', 5], [5, 11, 'm\0v']];
  for (let type = 0; type < 26; type++) {
    for (const p of MALFORMED) {
      // README row 1 (a single-argument request that is not one NUL-terminated string): not compared.
      if (ONEARG.has(type) && !/^[^\0]*\0$/.test(p)) continue;
      steps.push([5, type, p]);
    }
  }
  await compare(steps);
}));

// The memory quota (5000 bytes, soft = hard): creations and rewrites past it
// answer EIO; inside a transaction they also doom the commit (ENOMEM).
withRef('memory quota: EIO past it, a doomed transaction (small quota)', timed(async () => {
  await compare([
    ['intro', 5],
    ...Array.from({ length: 12 }, (_, i): Step => [5, 11, `a${i}\0${'x'.repeat(1500)}`]),
    [5, 11, 'a0\0' + 'y'.repeat(1800)], [5, 11, 'a0\0y'], [5, 2, 'a1\0'], [5, 1, '\0'], [5, 12, 'b\0'], [5, 4, 'a1\0t\0'], [5, 3, 'a1\0'],
    [5, 13, 'a2\0'], [5, 13, 'a3\0'], [5, 11, 'c\0' + 'z'.repeat(1000)], [5, 2, 'a1\0'],
    [5, 6, '\0'], [5, 11, 'a4\0' + 'w'.repeat(1500), 1], [5, 11, 'a5\0' + 'w'.repeat(1500), 1], [5, 11, 'a6\0' + 'w'.repeat(1500), 1], [5, 7, 'T\0', 1],
  ], { memory: 5000, memorySoft: 5000 });
}));

DE.run();
