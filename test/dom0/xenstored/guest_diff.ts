// The guest-side differential harness (differential_guest*.test.ts): the same
// steps against our daemon (in-process, ring transport) and the real
// cxenstored, whose guest rings are the kit's file-backed pages (fakexen:
// ring-<domid> files, kicks through the evtchn FIFO, dead-<domid> + VIRQ port
// 1 for domain death). Replies and events are compared byte for byte.
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import {
  XS_RING_REQ, XS_RING_REQ_CONS, XS_RING_REQ_PROD, XS_RING_RSP, XS_RING_RSP_CONS, XS_RING_RSP_PROD, XS_WATCH_EVENT,
  XsFrameReader, XsRing, encodeMessage, latin1,
} from '../../../src/abi/xs_wire.ts';
import { Xenstored } from '../../../src/dom0/xenstored/xenstored.ts';
import type { Quotas } from '../../../src/dom0/xenstored/quota.ts';
import { Dom0, Guest, type Msg } from './helpers.ts';
import { RawClient } from './rawclient.ts';
import { startRef, type RefDaemon } from './kit.ts';

export type Actor = 'd0' | number;
export type Step = [actor: Actor, type: number, payload: string, tx?: number] | ['intro', number] | ['kill', number];

interface Target {
  dom0(type: number, payload: string, tx: number): Promise<Msg[]>;
  guest(domid: number, type: number, payload: string, tx: number): Promise<Msg[]>;
  intro(domid: number): Promise<Msg[]>;
  kill(domid: number): Promise<void>;
  close(): void;
}

export function bytesOf(p: string): Uint8Array {
  const b = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) b[i] = p.charCodeAt(i);
  return b;
}

/**
 * Splits what a synchronous in-process call delivered the way a socket/ring
 * client sees it: up to and including the reply now, the rest (events queued
 * after the reply) at the next request.
 */
function splitter(): (ms: Msg[]) => Msg[] {
  let left: Msg[] = [];
  return (ms) => {
    const all = [...left, ...ms];
    const i = all.findIndex((m) => m.type !== XS_WATCH_EVENT);
    left = i < 0 ? [] : all.slice(i + 1);
    return i < 0 ? all : all.slice(0, i + 1);
  };
}

/** Ours: in-process daemon, guests on ArrayBuffer rings. */
function ours(quotas: Partial<Quotas> = {}): Target {
  const guests = new Map<number, Guest>();
  const splits = new Map<Actor, (ms: Msg[]) => Msg[]>();
  const split = (a: Actor) => {
    let f = splits.get(a);
    if (!f) splits.set(a, (f = splitter()));
    return f;
  };
  const d = new Xenstored({ mapRing: (domid) => guests.get(domid)?.mapping() ?? -2, quotas });
  const dom0 = new Dom0(d);
  return {
    dom0: async (t, p, tx) => split('d0')([...dom0.take(), ...dom0.send(t, p, tx)]),
    guest: async (domid, t, p, tx) => split(domid)(guests.get(domid)!.send(t, p, tx)),
    intro: async (domid) => {
      guests.set(domid, new Guest(d, domid));
      splits.delete(domid);
      return split('d0')([...dom0.take(), ...dom0.send(8, `${domid}\x001\x001\0`)]);
    },
    kill: async (domid) => d.domainDied(domid),
    close: () => {},
  };
}

/** A guest of the real daemon: pread/pwrite on the MAP_SHARED ring file are coherent with its mapping. */
class FileGuest {
  private readonly fd: number;
  private readonly reader = new XsFrameReader();
  constructor(file: string, private readonly kick: () => void) {
    fs.writeFileSync(file, new Uint8Array(4096));
    this.fd = fs.openSync(file, 'r+');
  }
  private page(): { buf: Uint8Array; ring: XsRing } {
    const buf = new Uint8Array(4096);
    // Indices first, then the data: the daemon writes data before it moves
    // rsp_prod, so data read after the index is never older than the index.
    fs.readSync(this.fd, buf, 2048, 32, 2048);
    fs.readSync(this.fd, buf, 0, 2048, 0);
    return { buf, ring: new XsRing(buf) };
  }
  async send(frame: Uint8Array): Promise<Msg[]> {
    let off = 0;
    const out: Msg[] = [];
    const deadline = Date.now() + 3000;
    while (off < frame.length) {
      if (Date.now() > deadline) return [...out, { type: -2, reqId: 0, txId: 0, p: 'TIMEOUT (ring full)' }];
      const { buf, ring } = this.page();
      const n = Math.max(0, ring.write(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS, frame.subarray(off)));
      // Data first, then the producer index (only our own fields are written back).
      fs.writeSync(this.fd, buf, XS_RING_REQ, 1024, XS_RING_REQ);
      fs.writeSync(this.fd, buf, XS_RING_REQ_PROD, 4, XS_RING_REQ_PROD);
      off += n;
      this.kick();
      if (off < frame.length) out.push(...(await this.poll(false)));
    }
    out.push(...(await this.poll(true)));
    return out;
  }
  /** Collects messages until a reply (non-event) arrives, or briefly if !untilReply. */
  private async poll(untilReply: boolean): Promise<Msg[]> {
    const out: Msg[] = [];
    let spins = 0;
    const t0 = Date.now();
    const deadline = t0 + (untilReply ? 5000 : 20);
    for (;;) {
      const { buf, ring } = this.page();
      const b = ring.read(XS_RING_RSP, XS_RING_RSP_PROD, XS_RING_RSP_CONS);
      if (b && b.length) {
        fs.writeSync(this.fd, buf, XS_RING_RSP_CONS, 4, XS_RING_RSP_CONS);
        this.kick();
        this.reader.push(b);
        for (let m = this.reader.next(); m; m = this.reader.next()) {
          out.push({ type: m.type, reqId: m.reqId, txId: m.txId, p: latin1(m.payload, 0, m.payload.length) });
        }
        if (untilReply && out.some((m) => m.type !== XS_WATCH_EVENT)) {
          if (Date.now() - t0 > 500) console.log(`  (cxenstored answered a guest after ${Date.now() - t0} ms)`);
          return out;
        }
        continue;
      }
      if (Date.now() > deadline) return untilReply ? [...out, { type: -2, reqId: 0, txId: 0, p: 'TIMEOUT' }] : out;
      // Spurious notifications are harmless; they make sure the daemon looks at the ring again.
      if (++spins % 50 === 0) this.kick();
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}

async function theirs(ref: RefDaemon): Promise<Target> {
  const fx = path.join(ref.dir, 'fakexen');
  const dom0 = await RawClient.connect(ref.socket);
  // Non-blocking: never hang the test if the daemon has no reader on the FIFO.
  const fifo = fs.openSync(path.join(fx, 'evtchn'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  const port = (p: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, p, true);
    fs.writeSync(fifo, b);
  };
  const guests = new Map<number, FileGuest>();
  const splits = new Map<number, (ms: Msg[]) => Msg[]>();
  return {
    dom0: (t, p, tx) => dom0.req(t, p, tx),
    guest: async (domid, t, p, tx) => {
      let f = splits.get(domid);
      if (!f) splits.set(domid, (f = splitter()));
      return f(await guests.get(domid)!.send(encodeMessage(t, 0, tx, bytesOf(p))));
    },
    intro: async (domid) => {
      guests.get(domid)?.close();
      try {
        fs.unlinkSync(path.join(fx, `dead-${domid}`));
      } catch {
        // not dead before
      }
      guests.set(domid, new FileGuest(path.join(fx, `ring-${domid}`), () => port(1000 + domid)));
      splits.delete(domid);
      return dom0.req(8, `${domid}\x001\x001\0`);
    },
    kill: async (domid) => {
      fs.writeFileSync(path.join(fx, `dead-${domid}`), '');
      port(1);
      // Let the daemon handle the VIRQ before the next step (a dom0 round trip orders it).
      await new Promise((r) => setTimeout(r, 50));
    },
    close: () => {
      dom0.close();
      for (const g of guests.values()) g.close();
      fs.closeSync(fifo);
    },
  };
}

/** DIRECTORY_PART's generation is each daemon's own counter (README row 2): shown as G. */
function show(ms: Msg[]): string {
  return ms.map((m) => `${m.type}/${m.txId}:${JSON.stringify(m.type === 22 ? m.p.replace(/^\d+\0/, 'G\0') : m.p)}`).join(' | ');
}

async function play(t: Target, steps: Step[]): Promise<string[]> {
  const out: string[] = [];
  const live = new Set<number>();
  const barrier = async () => {
    for (const g of live) {
      const b = await t.guest(g, 10, '0\0', 0);
      if (b.length > 1) out.push(`  g${g} events: ${show(b.slice(0, -1))}`);
    }
    const b = await t.dom0(10, '0\0', 0);
    if (b.length > 1) out.push(`  d0 events: ${show(b.slice(0, -1))}`);
  };
  for (const s of steps) {
    if (s[0] === 'intro') {
      const domid = s[1];
      await t.dom0(12, `/local/domain/${domid}\0`, 0);
      await t.dom0(14, `/local/domain/${domid}\0n${domid}\0r0\0`, 0);
      out.push(`intro ${domid} -> ${show(await t.intro(domid))}`);
      live.add(domid);
    } else if (s[0] === 'kill') {
      await t.kill(s[1]);
      live.delete(s[1]);
      out.push(`kill ${s[1]}`);
    } else {
      const [actor, type, payload, tx] = s;
      const r = actor === 'd0' ? await t.dom0(type, payload, tx ?? 0) : await t.guest(actor, type, payload, tx ?? 0);
      out.push(`${actor === 'd0' ? 'd0' : `g${actor}`} ${type} ${JSON.stringify(payload.length > 60 ? payload.slice(0, 60) + '…' : payload)} -> ${show(r)}`);
      // Fail fast (with the transcript) instead of timing out step after step.
      if (r.some((m) => m.type < 0)) throw new Error(`no reply:\n${out.slice(-15).join('\n')}`);
      if (actor !== 'd0' && type === 9) live.delete(Number(payload.split('\0')[0]));
      if (actor === 'd0' && type === 9) live.delete(Number(payload.split('\0')[0]));
    }
    await barrier();
  }
  return out;
}

/** `quotas` are given to both daemons (cxenstored: -E nodes, -S node-size, -Q transaction-nodes=, -Q/-q memory=). */
export async function compare(steps: Step[], quotas: Partial<Quotas> = {}): Promise<void> {
  const args: string[] = [];
  if (quotas.nodes !== undefined) args.push('-E', String(quotas.nodes));
  if (quotas.nodeSize !== undefined) args.push('-S', String(quotas.nodeSize));
  if (quotas.transactionNodes !== undefined) args.push('-Q', `transaction-nodes=${quotas.transactionNodes}`);
  if (quotas.memory !== undefined) args.push('-Q', `memory=${quotas.memory}`);
  if (quotas.memorySoft !== undefined) args.push('-q', `memory=${quotas.memorySoft}`);
  const ref = await startRef('cxenstored', args);
  if (typeof ref === 'string') throw new Error(ref);
  let t: Target | undefined;
  try {
    t = await theirs(ref);
    const expected = await play(t, steps);
    const actual = await play(ours(quotas), steps);
    assert.equal(actual, expected);
  } finally {
    t?.close();
    await ref.stop();
  }
}
