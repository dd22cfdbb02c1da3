// Test clients for the daemon: a dom0 in-process client and a guest ring
// client (an emulated domU writing the shared page and kicking the daemon).
import {
  XS_ERROR, XS_INTRODUCE, XS_RING_REQ, XS_RING_REQ_CONS, XS_RING_REQ_PROD, XS_RING_RSP, XS_RING_RSP_CONS,
  XS_RING_RSP_PROD, XsFrameReader, XsRing, encodeMessage, latin1, type XsMessage,
} from '../../../src/abi/xs_wire.ts';
import { Xenstored, type XenstoredOptions } from '../../../src/dom0/xenstored/xenstored.ts';
import { encodeRequest } from '../../../src/dom0/xenstored/local.ts';
import type { LocalConnection } from '../../../src/dom0/xenstored/local.ts';

export interface Msg {
  type: number;
  reqId: number;
  txId: number;
  /** Payload as a latin1 string with NULs shown as \0 (byte-exact, easy to compare). */
  p: string;
}

function toMsg(m: XsMessage): Msg {
  return { type: m.type, reqId: m.reqId, txId: m.txId, p: latin1(m.payload, 0, m.payload.length) };
}

/** Payload string → request bytes; `\0` separators are written literally by the caller. */
function raw(p: string): Uint8Array {
  const b = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) b[i] = p.charCodeAt(i);
  return b;
}

export class Dom0 {
  readonly conn: LocalConnection;
  inbox: Msg[] = [];
  constructor(readonly d: Xenstored) {
    this.conn = d.connectLocal();
    this.conn.onMessage = (f) => {
      const r = new XsFrameReader();
      r.push(f);
      this.inbox.push(toMsg(r.next()!));
    };
  }
  /** Sends one request; returns everything delivered to this connection meanwhile. */
  send(type: number, payload: string, txId = 0, reqId = 0): Msg[] {
    this.inbox = [];
    this.conn.send(encodeMessage(type, reqId, txId, raw(payload)));
    const out = this.inbox;
    this.inbox = [];
    return out;
  }
  /** The reply payload (last message), or `ERR:<name>`. */
  q(type: number, payload: string, txId = 0): string {
    const ms = this.send(type, payload, txId);
    const m = ms[ms.length - 1];
    if (!m) return '<none>';
    return m.type === XS_ERROR ? `ERR:${m.p.replace(/\0$/, '')}` : m.p;
  }
  take(): Msg[] {
    const o = this.inbox;
    this.inbox = [];
    return o;
  }
}

export class Guest {
  readonly page = new ArrayBuffer(4096);
  readonly ring = new XsRing(this.page);
  notifications = 0;
  private readonly reader = new XsFrameReader();
  constructor(readonly d: Xenstored, readonly domid: number) {}
  mapping() {
    return { page: this.page, notify: () => void this.notifications++ };
  }
  /** Writes raw bytes into req (as much as fits) and kicks. */
  push(bytes: Uint8Array): number {
    const n = this.ring.write(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS, bytes);
    this.d.kick(this.domid);
    return n;
  }
  /** Reads every whole message from rsp. */
  recv(): Msg[] {
    const out: Msg[] = [];
    for (;;) {
      const b = this.ring.read(XS_RING_RSP, XS_RING_RSP_PROD, XS_RING_RSP_CONS);
      if (b && b.length) {
        this.reader.push(b);
        this.d.kick(this.domid);
      }
      let m = this.reader.next();
      if (!m && (!b || b.length === 0)) break;
      while (m) {
        out.push(toMsg(m));
        m = this.reader.next();
      }
    }
    return out;
  }
  send(type: number, payload: string, txId = 0, reqId = 0): Msg[] {
    const f = encodeMessage(type, reqId, txId, raw(payload));
    let off = 0;
    while (off < f.length) off += this.push(f.subarray(off));
    return this.recv();
  }
  q(type: number, payload: string, txId = 0): string {
    const ms = this.send(type, payload, txId);
    const m = ms.filter((x) => x.type !== 15).pop();
    if (!m) return '<none>';
    return m.type === XS_ERROR ? `ERR:${m.p.replace(/\0$/, '')}` : m.p;
  }
}

/** A daemon whose INTRODUCE maps rings of the guests created through `guest()`. */
export function world(opts: Omit<XenstoredOptions, 'mapRing'> = {}) {
  const guests = new Map<number, Guest>();
  const d: Xenstored = new Xenstored({
    ...opts,
    mapRing: (domid) => {
      const g = guests.get(domid);
      return g ? g.mapping() : -2;
    },
  });
  const dom0 = new Dom0(d);
  /** Creates /local/domain/<id> owned by the guest (as the toolstack does) and introduces it. */
  const guest = (domid: number): Guest => {
    const g = new Guest(d, domid);
    guests.set(domid, g);
    dom0.q(12, `/local/domain/${domid}\0`);
    dom0.q(14, `/local/domain/${domid}\0n${domid}\0r0\0`);
    const r = dom0.q(XS_INTRODUCE, `${domid}\0${1000 + domid}\0${1}\0`);
    if (r !== 'OK\0') throw new Error(`introduce ${domid}: ${r}`);
    return g;
  };
  return { d, dom0, guest };
}

export { encodeRequest };
