// dom0's xenstore client (drivers/xen/xenbus/xenbus_comms.c, xenbus_xs.c, the
// post-4.11 design with many requests in flight).
//
// The `xenbus` thread reads every message from xenstored. A reply is matched
// by req_id to its waiting request and wakes the caller; a watch event is
// handed to xs_watch_msg(), which queues it for a watch thread. The xenbus
// thread never runs a watch callback, so replies keep flowing while xenwatch
// is stuck: that is why a stalled dom0 still answers `xenstore-ls`.
//
// The transport is xenstored's in-process connection, which calls onMessage
// synchronously; onMessage only appends to the inbox and wakes the thread,
// the way the evtchn interrupt handler (wake_waiting) only wakes xb_waitq.
//
// Requests are sim coroutines: the calling kernel thread sleeps in D inside
// `read_reply` until its reply arrives (wait_event, uninterruptible).

import {
  XS_DIRECTORY, XS_ERROR, XS_MKDIR, XS_READ, XS_RM, XS_TRANSACTION_END, XS_TRANSACTION_START, XS_UNWATCH, XS_WATCH,
  XS_WATCH_EVENT, XS_WRITE, XSD_ERRNO, bytes, decodeMessage, encodeArgs, encodeMessage, latin1, splitStrings, text, type XsMessage,
  type XsdError,
} from '../../abi/xs_wire.ts';
import { WaitQueue, call, waitEvent, type Co } from '../../sim/index.ts';
import type { Kthread, Kthreads } from './kthread.ts';
import { Xenwatch, type XenbusWatch } from './xenwatch.ts';
import { xsTransaction } from '../xs_transaction.ts';

/** What xenstored's connectLocal() returns (src/dom0/xenstored/local.ts). */
export interface XsLocalConnection {
  send(frame: Uint8Array): void;
  onMessage: ((frame: Uint8Array) => void) | undefined;
  close(): void;
}

/** An XS_ERROR reply, by name (ENOENT, EAGAIN, ...). */
export class XenbusError extends Error {
  constructor(readonly xsError: string, readonly op: string, readonly path = '') {
    super(`xenbus ${op} ${path}: ${xsError}`);
  }
  get errno(): number {
    return XSD_ERRNO[this.xsError as XsdError] ?? 22;
  }
}

interface PendingReq {
  reply: XsMessage | undefined;
  readonly wq: WaitQueue;
}

export type XbtT = number;
export const XBT_NIL = 0;

export class Xenbus {
  private readonly inbox: Uint8Array[] = [];
  private readonly xbWaitq = new WaitQueue();
  private readonly pending = new Map<number, PendingReq>();
  private readonly watches = new Map<string, XenbusWatch>();
  private reqId = 0;
  private tokenSeq = 0;
  thread!: Kthread;
  /** Watch events dropped because no watch had the token or will_handle said no. */
  dropped = 0;
  /** Requests completed (stats). */
  replies = 0;

  constructor(
    readonly kthreads: Kthreads,
    readonly conn: XsLocalConnection,
    readonly xenwatch: Xenwatch,
  ) {}

  /** xb_init_comms(): hook the transport, start `[xenbus]`. */
  start(): void {
    this.conn.onMessage = (frame) => {
      // The transport may reuse its buffer: keep a copy.
      this.inbox.push(frame.slice());
      this.xbWaitq.wakeAll();
    };
    this.thread = this.kthreads.run('xenbus', 'xenbus_thread', () => this.xenbusThread());
  }

  private *xenbusThread(): Co {
    for (;;) {
      yield* waitEvent(this.xbWaitq, () => this.inbox.length > 0, 'S');
      while (this.inbox.length > 0) this.processMsg(this.inbox.shift()!);
    }
  }

  /** process_msg(): one message from xenstored. */
  private processMsg(frame: Uint8Array): void {
    const m = decodeMessage(frame);
    if (m.type === XS_WATCH_EVENT) {
      const parts = splitStrings(m.payload);
      if (!parts || parts.length < 2) return;
      this.xsWatchMsg(parts[0]!, parts[1]!);
      return;
    }
    const req = this.pending.get(m.reqId);
    if (!req) return; // a reply nobody waits for (cannot happen with unique ids)
    this.pending.delete(m.reqId);
    // The payload views `frame`, our own copy (onMessage), which nothing else holds or writes.
    req.reply = m;
    this.replies++;
    req.wq.wakeAll();
  }

  /** xs_watch_msg(): find the watch by token, ask will_handle, queue (routing is the watch thread layer's). */
  private xsWatchMsg(path: string, token: string): void {
    const w = this.watches.get(token);
    if (!w || (w.will_handle && !w.will_handle(w, path, token))) {
      this.dropped++;
      return;
    }
    this.xenwatch.queue(w, path, token);
  }

  // ------------------------------------------------------------------ requests

  /** xs_talkv(): send one request, sleep (D) until its reply; XS_ERROR throws. */
  *talk(type: number, opName: string, payload: Uint8Array, tx: XbtT = XBT_NIL, path = ''): Co<XsMessage> {
    const r = yield* this.talkRaw(type, payload, tx);
    if (r.type === XS_ERROR) throw this.error(r, opName, path);
    return r;
  }

  /**
   * talk() without the throw: the reply as it came, XS_ERROR included. The
   * *_opt readers take it, so an absent key (ENOENT, routine while a backend
   * probes optional features) costs no XenbusError, whose stack capture
   * through the sim coroutines' frames cost more than the round trip.
   */
  private *talkRaw(type: number, payload: Uint8Array, tx: XbtT): Co<XsMessage> {
    // xs_request_id: unique among requests in flight (u32 wrap is harmless).
    const id = (this.reqId = (this.reqId + 1) >>> 0);
    const req: PendingReq = { reply: undefined, wq: new WaitQueue() };
    this.pending.set(id, req);
    this.conn.send(encodeMessage(type, id, tx, payload));
    yield* call('read_reply', waitEvent(req.wq, () => req.reply !== undefined, 'D'));
    return req.reply!;
  }

  private error(r: XsMessage, opName: string, path: string): XenbusError {
    return new XenbusError(splitStrings(r.payload)?.[0] ?? text(r.payload), opName, path);
  }

  private static args(...parts: string[]): Uint8Array {
    return encodeArgs(parts);
  }

  /** xenbus_read(): the value; throws XenbusError (ENOENT if absent). */
  *xs_read(path: string, tx: XbtT = XBT_NIL): Co<string> {
    const r = yield* call('xs_read', this.talk(XS_READ, 'read', Xenbus.args(path), tx, path));
    return text(r.payload);
  }

  /** xs_read that answers undefined instead of throwing (xenbus_exists / optional keys): any XS_ERROR reply. */
  *xs_read_opt(path: string, tx: XbtT = XBT_NIL): Co<string | undefined> {
    const r = yield* call('xs_read', this.talkRaw(XS_READ, Xenbus.args(path), tx));
    return r.type === XS_ERROR ? undefined : text(r.payload);
  }

  *xs_write(path: string, value: string, tx: XbtT = XBT_NIL): Co {
    yield* call('xs_write', this.talk(XS_WRITE, 'write', encodeArgs([path], bytes(value)), tx, path));
  }

  *xs_mkdir(path: string, tx: XbtT = XBT_NIL): Co {
    yield* this.talk(XS_MKDIR, 'mkdir', Xenbus.args(path), tx, path);
  }

  *xs_rm(path: string, tx: XbtT = XBT_NIL): Co {
    yield* call('xs_rm', this.talk(XS_RM, 'rm', Xenbus.args(path), tx, path));
  }

  *xs_directory(path: string, tx: XbtT = XBT_NIL): Co<string[]> {
    const r = yield* call('xs_directory', this.talk(XS_DIRECTORY, 'directory', Xenbus.args(path), tx, path));
    return splitStrings(r.payload) ?? [];
  }

  /** xs_directory that answers [] for a missing node (any XS_ERROR reply). */
  *xs_directory_opt(path: string, tx: XbtT = XBT_NIL): Co<string[]> {
    const r = yield* call('xs_directory', this.talkRaw(XS_DIRECTORY, Xenbus.args(path), tx));
    return r.type === XS_ERROR ? [] : (splitStrings(r.payload) ?? []);
  }

  *xs_transaction_start(): Co<XbtT> {
    const r = yield* this.talk(XS_TRANSACTION_START, 'transaction_start', Xenbus.args(''));
    return Number(latin1(r.payload, 0, r.payload.length).replace(/\0.*$/, ''));
  }

  /** Ends a transaction; a conflicting commit throws XenbusError('EAGAIN'). */
  *xs_transaction_end(tx: XbtT, abort: boolean): Co {
    yield* this.talk(XS_TRANSACTION_END, 'transaction_end', Xenbus.args(abort ? 'F' : 'T'), tx);
  }

  /** The `again:` loop every driver writes around a transaction (retries on EAGAIN without bound). */
  *transaction<T>(body: (tx: XbtT) => Co<T>): Co<T> {
    const xb = this;
    return yield* xsTransaction(
      {
        start: () => xb.xs_transaction_start(),
        *commit(tx: XbtT): Co<boolean> {
          try {
            yield* xb.xs_transaction_end(tx, false);
            return true;
          } catch (e) {
            if (e instanceof XenbusError && e.xsError === 'EAGAIN') return false;
            throw e;
          }
        },
        abort: (tx: XbtT) => xb.xs_transaction_end(tx, true),
      },
      body,
    );
  }

  // ------------------------------------------------------------------ watches

  /** A fresh token: the watch "pointer" printed %lX, as Linux does. */
  newToken(): string {
    return (0xffff888004a00000n + 0x40n * BigInt(++this.tokenSeq)).toString(16).toUpperCase();
  }

  /** register_xenbus_watch(): nr_pending = 0, add, XS_WATCH (xenstored fires it once at once). */
  *register_xenbus_watch(w: XenbusWatch): Co {
    if (!w.token) w.token = this.newToken();
    w.nr_pending = 0;
    this.watches.set(w.token, w);
    try {
      yield* call('register_xenbus_watch', this.talk(XS_WATCH, 'watch', Xenbus.args(w.node, w.token), XBT_NIL, w.node));
    } catch (e) {
      this.watches.delete(w.token);
      throw e;
    }
  }

  /**
   * unregister_xenbus_watch(): forget the watch (new events are dropped from
   * now on), XS_UNWATCH, then purge its queued events under the owning watch
   * thread's mutex, unless running on that thread. The mutex is the cascade: a
   * thread unregistering a watch while that watch thread is stuck blocks too.
   */
  *unregister_xenbus_watch(w: XenbusWatch): Co {
    if (!this.watches.delete(w.token)) return;
    yield* call('unregister_xenbus_watch', this.unregisterBody(w));
  }

  private *unregisterBody(w: XenbusWatch): Co {
    try {
      yield* this.talk(XS_UNWATCH, 'unwatch', Xenbus.args(w.node, w.token), XBT_NIL, w.node);
    } catch (e) {
      if (!(e instanceof XenbusError)) throw e; // Linux only warns
    }
    yield* this.xenwatch.purge(w);
  }

  isRegistered(w: XenbusWatch): boolean {
    return this.watches.get(w.token) === w;
  }

  get watchCount(): number {
    return this.watches.size;
  }
}

/** A watch description with defaults (token assigned on registration). */
export function makeWatch(node: string, callback: XenbusWatch['callback'], extra: Partial<XenbusWatch> = {}): XenbusWatch {
  return { node, token: '', callback, nr_pending: 0, ...extra };
}
