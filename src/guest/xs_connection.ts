// The guest's xenstore connection: the req_id dispatcher over the shared
// ring page (`struct xenstore_domain_interface`, xen/include/public/io/xs_wire.h;
// the wire codec is src/abi/xs_wire.ts). The design is in xs.ts's header.
//
// * Every request gets a fresh req_id (never 0: watch events carry 0); replies
//   are dispatched by req_id, so any number of requests may be in flight.
//   Watch events are dispatched by token (one token per subscription,
//   registered by xs_watch.ts).
// * One writer thread copies queued frames into `req` in order. After each
//   produce it notifies; if the ring is full it waits with
//   Activations.after(port, c), where c was read *before* looking at the
//   indices (interest registered before re-checking: no lost wakeup).
// * One reader thread drains `rsp` the same way, feeding a frame reader, and
//   notifies after each consume (the daemon may be waiting for space).
// * A malformed stream closes the connection: every outstanding request and
//   watch fails with XsProtocolError (fail()).

import { Observable, throwError, timeout, type SchedulerLike } from 'rxjs';
import {
  XS_ERROR, XS_RING_RSP, XS_RING_RSP_CONS, XS_RING_RSP_PROD, XS_RING_ERROR, XS_RING_REQ, XS_RING_REQ_CONS, XS_RING_REQ_PROD,
  XS_TYPE_NAMES, XS_WATCH_EVENT, XENSTORE_PAYLOAD_MAX,
  XsError, XsFrameReader, XsProtocolError, XsRing, encodeArgs, encodeMessage, latin1, splitStrings, type XsMessage,
} from '../abi/xs_wire.ts';
import * as Lwt from './lwt.ts';
import { fromLwt, retryBackoff, toLwt } from './rx.ts';
import { XsHandle, type XsRequester } from './xs_handle.ts';

/** How the client reaches the ring: the page, the event channel, and Activations. */
export interface XsIO {
  /** The `xenstore_domain_interface` page. */
  page: ArrayBuffer | Uint8Array;
  /** EVTCHNOP_send on the store port. */
  notify(): void;
  /** The store port's event counter now (Activations.counter). */
  counter(): number;
  /** Resolves once the counter exceeds `c` (Activations.after: lossless). */
  after(c: number): Lwt.Lwt<number>;
  /** A race-relevant shared-memory access (Memory.point); optional. */
  point?(label: string): void;
  /** The virtual-time scheduler for timeouts and back-off; without one, retries follow at once and timeoutMs is ignored. */
  scheduler?: SchedulerLike;
}

interface Pending {
  type: number;
  path: string;
  resolve: Lwt.Resolver<XsMessage>;
  /** What a reply to a canceled request must undo in the daemon. */
  late?: (m: XsMessage) => void;
}

/** A watch subscription as the reader dispatches its events (xs_watch.ts registers it). */
interface WatchSub {
  path: string;
  next: (path: string) => void;
  error: (e: unknown) => void;
}

function isEagain(e: unknown): boolean {
  return e instanceof XsError && e.errno === 'EAGAIN';
}

/** The ring, the req_id table and the watch tokens of one client (XsClient, xs.ts, adds watches and transactions). */
export class XsConnection extends XsHandle implements XsRequester {
  private readonly ring: XsRing;
  private readonly reader = new XsFrameReader();
  private readonly pending = new Map<number, Pending>();
  private readonly watches = new Map<string, WatchSub>();
  private readonly outq: Uint8Array[] = [];
  private outOff = 0;
  private writing = false;
  private nextReq = 1;
  private nextToken = 1;
  /** Every request fails with XsError ETIMEDOUT after this many virtual ms (needs io.scheduler); undefined: wait forever. */
  timeoutMs: number | undefined;
  /** Set once the stream is unusable; every request then fails with it. */
  failed: XsProtocolError | undefined;
  /** Counters for tests and the console. */
  readonly stats = { requests: 0, replies: 0, dropped: 0, events: 0, notifies: 0, readChunks: 0, writeWaits: 0, readWaits: 0 };

  constructor(private readonly io: XsIO, opts: { timeoutMs?: number } = {}) {
    super(undefined as unknown as XsRequester, 0);
    (this as unknown as { client: XsRequester }).client = this;
    this.ring = new XsRing(io.page);
    this.timeoutMs = opts.timeoutMs;
    this.readLoop();
  }

  // ------------------------------------------------------------ requests

  /**
   * Sends one request; resolves with the reply (XS_ERROR becomes a rejected
   * XsError). Cancelable: the reply is then dropped, after `late` has undone
   * what it left in the daemon.
   */
  request(type: number, txId: number, path: string, args: readonly string[], raw?: Uint8Array, late?: (m: XsMessage) => void): Lwt.Lwt<XsMessage> {
    if (this.failed) return Lwt.fail(this.failed);
    const payload = encodeArgs(args, raw);
    if (payload.length > XENSTORE_PAYLOAD_MAX) return Lwt.fail(new XsError('E2BIG', XS_TYPE_NAMES[type] ?? String(type), path));
    const reqId = this.allocReqId();
    const [p, r] = Lwt.task<XsMessage>();
    this.pending.set(reqId, late ? { type, path, resolve: r, late } : { type, path, resolve: r });
    this.stats.requests++;
    this.outq.push(encodeMessage(type, reqId, txId, payload));
    this.kickWriter();
    const ms = this.timeoutMs;
    const sched = this.io.scheduler;
    if (ms === undefined || !sched) return p;
    const op = XS_TYPE_NAMES[type] ?? String(type);
    return toLwt(fromLwt(() => p).pipe(timeout({ first: ms, scheduler: sched, with: () => throwError(() => new XsError('ETIMEDOUT', op, path)) })));
  }

  private allocReqId(): number {
    for (;;) {
      const id = this.nextReq;
      this.nextReq = (this.nextReq + 1) >>> 0 || 1;
      if (!this.pending.has(id)) return id;
    }
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  // ------------------------------------------------------------ writer

  private kickWriter(): void {
    if (this.writing) return;
    this.writing = true;
    this.writeLoop();
  }

  /** Copies queued frames into req; waits for space with Activations.after. */
  private writeLoop(): void {
    for (;;) {
      if (this.failed) {
        this.outq.length = 0;
        this.writing = false;
        return;
      }
      if (this.outq.length === 0) {
        this.writing = false;
        return;
      }
      // Interest first: an event after this point moves the counter past c.
      const c = this.io.counter();
      this.io.point?.('xs:write req');
      let wrote = 0;
      while (this.outq.length > 0) {
        const f = this.outq[0]!;
        const n = this.ring.write(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS, f.subarray(this.outOff));
        if (n < 0) {
          this.fail(new XsProtocolError('xenstore: corrupt request ring indices (req_prod - req_cons > 1024)'));
          continue;
        }
        wrote += n;
        this.outOff += n;
        if (this.outOff < f.length) break;
        this.outq.shift();
        this.outOff = 0;
      }
      if (wrote > 0) this.notify();
      if (this.outq.length === 0) continue;
      // Ring full: wait for the daemon to consume.
      this.stats.writeWaits++;
      this.io.after(c).bind_(() => this.writeLoop());
      return;
    }
  }

  private notify(): void {
    this.stats.notifies++;
    this.io.notify();
  }

  // ------------------------------------------------------------ reader

  /** The reader thread: drain rsp, dispatch, then Activations.after. */
  private readLoop(): void {
    for (;;) {
      if (this.failed) return;
      const c = this.io.counter();
      this.io.point?.('xs:read rsp');
      const bytes = this.ring.read(XS_RING_RSP, XS_RING_RSP_PROD, XS_RING_RSP_CONS);
      if (bytes === undefined) {
        this.fail(new XsProtocolError('xenstore: corrupt response ring indices (rsp_prod - rsp_cons > 1024)'));
        return;
      }
      if (bytes.length === 0) {
        const err = this.ring.get(XS_RING_ERROR);
        if (err !== 0) {
          this.fail(new XsProtocolError(`xenstore: the daemon marked the ring broken (error ${err}${err === 3 ? ' = PROTO' : ''})`));
          return;
        }
        this.stats.readWaits++;
        this.io.after(c).bind_(() => this.readLoop());
        return;
      }
      this.stats.readChunks++;
      this.notify(); // consumed: space freed for the daemon
      this.reader.push(bytes);
      for (let m = this.reader.next(); m; m = this.reader.next()) {
        this.dispatch(m);
        if (this.failed) return;
      }
      if (this.reader.broken) {
        this.fail(new XsProtocolError(`xenstore: malformed reply from the daemon (header len > ${XENSTORE_PAYLOAD_MAX})`));
        return;
      }
    }
  }

  private dispatch(m: XsMessage): void {
    if (m.type === XS_WATCH_EVENT) {
      this.stats.events++;
      const parts = splitStrings(m.payload);
      if (!parts || parts.length < 2) return this.fail(new XsProtocolError('xenstore: malformed watch event'));
      const sub = this.watches.get(parts[1]!);
      if (sub) sub.next(parts[0]!);
      return;
    }
    const p = this.pending.get(m.reqId);
    if (!p) return this.fail(new XsProtocolError(`xenstore: reply with unknown req_id ${m.reqId} (type ${m.type})`));
    this.pending.delete(m.reqId);
    this.stats.replies++;
    if (Lwt.is_canceled(p.resolve.promise)) {
      // Nobody waits any more (a timeout, an unsubscribe): drop it, undoing what it left behind.
      this.stats.dropped++;
      if (m.type === p.type) p.late?.({ ...m, payload: m.payload.slice() });
      return;
    }
    const op = XS_TYPE_NAMES[p.type] ?? String(p.type);
    if (m.type === XS_ERROR) {
      const s = splitStrings(m.payload);
      const name = s?.[0] ?? latin1(m.payload, 0, m.payload.length);
      Lwt.wakeup_later_exn(p.resolve, new XsError(name || 'EINVAL', op, p.path));
      return;
    }
    if (m.type !== p.type) {
      return this.fail(new XsProtocolError(`xenstore: reply type ${XS_TYPE_NAMES[m.type] ?? m.type} to a ${op} request (req_id ${m.reqId})`), p);
    }
    // The payload view is only valid until the next push: copy it. Queued
    // (wakeup_later): the waiting threads run after this pass of the reader.
    Lwt.wakeup_later(p.resolve, { ...m, payload: m.payload.slice() });
  }

  /** Fails everything outstanding and closes the client. */
  private fail(e: XsProtocolError, first?: Pending): void {
    if (this.failed) return;
    this.failed = e;
    if (first) Lwt.wakeup_later_exn(first.resolve, e);
    const ps = [...this.pending.values()];
    this.pending.clear();
    for (const p of ps) Lwt.wakeup_later_exn(p.resolve, e);
    const ws = [...this.watches.values()];
    this.watches.clear();
    for (const w of ws) w.error(e);
  }

  // ------------------------------------------------------------ watch tokens

  /** A fresh token for a subscription: events carrying it go to `sub` until removeWatch. */
  addWatch(sub: WatchSub): string {
    const token = `xenode-${this.nextToken++}`;
    this.watches.set(token, sub);
    return token;
  }

  /** Stop dispatching `token`'s events (they are then ignored, as for an unknown token). */
  removeWatch(token: string): void {
    this.watches.delete(token);
  }

  /**
   * Resubscribe to `attempt$` while it fails with EAGAIN, `count` times at
   * most, after an exponential back-off on the client's virtual-time
   * scheduler (1, 2, 4 … 32 ms). The one EAGAIN loop of the client: commits
   * (transaction$) and DIRECTORY_PART restarts (directory) both use it.
   */
  retryEagain<T>(attempt$: Observable<T>, count: number): Observable<T> {
    return attempt$.pipe(retryBackoff<T>({ count, when: isEagain, scheduler: this.io.scheduler }));
  }
}
