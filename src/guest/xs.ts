// Xs: the guest's xenstore client over the shared ring page
// (`struct xenstore_domain_interface`, xen/include/public/io/xs_wire.h; the wire codec is
// src/abi/xs_wire.ts).
//
//   const xs = Xs.connect();                       // HVM_PARAM_STORE_PFN/EVTCHN, unmask the port
//   const name = await xs.read('name');            // relative to /local/domain/<domid>
//   await xs.write('data/status', 'ready');
//   xs.watch('data/command').subscribe((path) => …);   // RxJS; unsubscribe sends UNWATCH
//   xs.values('data/mode').pipe(first((v) => v === 'on'))  // watch + read, as a stream
//   await xs.transaction((t) => t.read('x').bind_((v) => t.write('x', v + '!')));   // retried on EAGAIN
//   xs.transaction$((t) => …)                        // the same, as an Observable
//
// Design (docs/architecture.md §4.9):
// * Every request gets a fresh req_id (never 0: watch events carry 0); replies
//   are dispatched by req_id, so any number of requests may be in flight.
//   Watch events are dispatched by token (one token per subscription).
// * One writer thread copies queued frames into `req` in order. After each
//   produce it notifies; if the ring is full it waits with
//   Activations.after(port, c), where c was read *before* looking at the
//   indices (interest registered before re-checking: no lost wakeup).
// * One reader thread drains `rsp` the same way, feeding a frame reader, and
//   notifies after each consume (the daemon may be waiting for space). A
//   reply larger than the ring (up to 16 + 4096 bytes) arrives in pieces.
// * A malformed stream from the daemon (len > 4096, corrupt indices, a reply
//   whose type or payload does not fit its request, a reply nobody asked for)
//   fails every outstanding request and watch with XsProtocolError and
//   leaves the client closed: an error, never a hang. So does the page's
//   `error` field once the daemon sets it (cxenstored: 3 = PROTO, and it
//   stops serving the ring), checked whenever the reader wakes.
// * A request over 4096 payload bytes is refused locally (E2BIG); a
//   directory whose listing is over 4096 bytes (E2BIG) is fetched with
//   DIRECTORY_PART, as libxenstore does.
// * The waits are RxJS streams on the guest's virtual-time scheduler: a
//   watch is an Observable of fired paths (unsubscribing sends UNWATCH);
//   `values` reads the node at each event, the read in flight cancelled when
//   the next event comes (switchMap); EAGAIN, from a conflicting commit or
//   from a directory changing under DIRECTORY_PART, is retried by one
//   operator with exponential back-off on virtual time (retryEagain). With
//   `timeoutMs` set, every request fails with XsError ETIMEDOUT after that
//   long (RxJS `timeout` on virtual time). Off by default: a daemon that
//   never answers is a hang to be seen, not hidden.
// * A request is a Lwt.task: cancelling the caller's promise (a timeout, a
//   switchMap, Lwt.pick) does not recall the request, already on the ring;
//   its reply is dropped when it comes. Dropped replies that leave something
//   behind in the daemon are undone then: a transaction's id is ended (F), a
//   watch is unwatched.
//
// The transport is abstract (XsIO) so that tests can run the client against
// the real daemon over an in-process ring page; `Xs.connect()` builds it from
// the running platform.

import { Observable, defer, switchMap, throwError, timeout, type SchedulerLike } from 'rxjs';
import {
  XS_DIRECTORY, XS_DIRECTORY_PART, XS_ERROR, XS_GET_DOMAIN_PATH, XS_GET_PERMS, XS_MKDIR, XS_READ, XS_RING_RSP, XS_RING_RSP_CONS,
  XS_RING_RSP_PROD, XS_RING_ERROR, XS_RING_REQ, XS_RING_REQ_CONS, XS_RING_REQ_PROD, XS_RM, XS_SET_PERMS, XS_TRANSACTION_END,
  XS_TRANSACTION_START, XS_TYPE_NAMES, XS_UNWATCH, XS_WATCH, XS_WATCH_EVENT, XS_WRITE, XENSTORE_PAYLOAD_MAX,
  XsError, XsFrameReader, XsProtocolError, XsRing, encodeArgs, encodeMessage, latin1, splitStrings, type XsMessage,
} from '../abi/xs_wire.ts';
import { HVM_PARAM } from '../abi/xen.ts';
import { Main, scheduler } from './runtime.ts';
import * as Lwt from './lwt.ts';
import { fromLwt, retryBackoff, toLwt } from './rx.ts';
import { utf8Decode, utf8Encode } from './utf8.ts';

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

// XS_ERROR replies and a broken stream: the error types every client shares (abi/xs_wire.ts).
export { XsError, XsProtocolError };

/** A permission entry: `n5`, `r0`, `w3`, `b7`. */
export interface XsPerm {
  perm: 'n' | 'r' | 'w' | 'b';
  domid: number;
}

export function parsePerm(s: string): XsPerm {
  const m = /^([nrwb])(\d+)$/.exec(s);
  if (!m) throw new XsProtocolError(`xenstore: malformed permission "${s}"`);
  return { perm: m[1] as XsPerm['perm'], domid: Number(m[2]) };
}

export function formatPerm(p: XsPerm | string): string {
  return typeof p === 'string' ? p : `${p.perm}${p.domid}`;
}

interface Pending {
  type: number;
  path: string;
  resolve: Lwt.Resolver<XsMessage>;
  /** What a reply to a canceled request must undo in the daemon. */
  late?: (m: XsMessage) => void;
}

interface WatchSub {
  path: string;
  next: (path: string) => void;
  error: (e: unknown) => void;
}

const MAX_TX_ATTEMPTS = 100;
/** Attempts at a DIRECTORY_PART listing while the directory keeps changing under it (its generation moves). */
const MAX_DIRECTORY_ATTEMPTS = 10;

function isEagain(e: unknown): boolean {
  return e instanceof XsError && e.errno === 'EAGAIN';
}

/** Operations that may run inside a transaction (tx 0 = none). */
export class XsHandle {
  constructor(
    protected readonly client: XsClient,
    readonly txId: number,
  ) {}

  /** XS_READ: the value (UTF-8). */
  read(path: string): Lwt.Lwt<string> {
    return this.client.request(XS_READ, this.txId, path, [path]).map_((m) => utf8Decode(m.payload));
  }

  /** XS_READ as raw bytes. */
  readBytes(path: string): Lwt.Lwt<Uint8Array> {
    return this.client.request(XS_READ, this.txId, path, [path]).map_((m) => m.payload.slice());
  }

  /** XS_WRITE (creates missing parents). */
  write(path: string, value: string | Uint8Array): Lwt.Lwt<void> {
    const v = typeof value === 'string' ? utf8Encode(value) : value;
    return this.client.request(XS_WRITE, this.txId, path, [path], v).map_(okReply(path, 'WRITE'));
  }

  /**
   * XS_DIRECTORY: child names. A list too big for one reply (E2BIG; ENOSYS
   * counts the same, as in libxenstore) is fetched with XS_DIRECTORY_PART by
   * byte offset, restarting if the node's generation changes meanwhile.
   */
  directory(path: string): Lwt.Lwt<string[]> {
    return Lwt.catch_(
      () => this.client.request(XS_DIRECTORY, this.txId, path, [path]).map_((m) => strings(m, 'DIRECTORY', path)),
      (e) => {
        if (!(e instanceof XsError && (e.errno === 'E2BIG' || e.errno === 'ENOSYS'))) throw e;
        // A generation change restarts from offset 0: EAGAIN, retried like a transaction.
        return toLwt(this.client.retryEagain(defer(() => fromLwt(() => this.directoryParts(path))), MAX_DIRECTORY_ATTEMPTS - 1));
      },
    );
  }

  private directoryParts(path: string): Lwt.Lwt<string[]> {
    const names: string[] = [];
    let gen: string | undefined;
    const part = (offset: number): Lwt.Lwt<string[]> =>
      this.client.request(XS_DIRECTORY_PART, this.txId, path, [path, String(offset)]).bind_((m) => {
        // `gen\0` + `name\0`*, plus one extra `\0` on the last chunk.
        const p = m.payload;
        const s = strings(m, 'DIRECTORY_PART', path);
        if (s.length === 0) throw new XsProtocolError(`xenstore DIRECTORY_PART ${path}: malformed reply (no generation)`);
        if (gen === undefined) gen = s[0];
        else if (gen !== s[0]) throw new XsError('EAGAIN', 'DIRECTORY_PART', path);
        const last = p.length >= 2 && p[p.length - 2] === 0;
        const kids = s.slice(1).filter((k, i, a) => !(last && i === a.length - 1 && k === ''));
        let bytes = 0;
        for (const k of kids) bytes += k.length + 1;
        names.push(...kids);
        if (last) return Lwt.return_(names);
        if (bytes === 0) throw new XsProtocolError(`xenstore DIRECTORY_PART ${path}: no progress at offset ${offset}`);
        return part(offset + bytes);
      });
    return part(0);
  }

  rm(path: string): Lwt.Lwt<void> {
    return this.client.request(XS_RM, this.txId, path, [path]).map_(okReply(path, 'RM'));
  }

  mkdir(path: string): Lwt.Lwt<void> {
    return this.client.request(XS_MKDIR, this.txId, path, [path]).map_(okReply(path, 'MKDIR'));
  }

  getPerms(path: string): Lwt.Lwt<XsPerm[]> {
    return this.client.request(XS_GET_PERMS, this.txId, path, [path]).map_((m) => strings(m, 'GET_PERMS', path).map(parsePerm));
  }

  /** XS_SET_PERMS: entry 0 is the owner and everyone else's default. */
  setPerms(path: string, perms: ReadonlyArray<XsPerm | string>): Lwt.Lwt<void> {
    return this.client.request(XS_SET_PERMS, this.txId, path, [path, ...perms.map(formatPerm)]).map_(okReply(path, 'SET_PERMS'));
  }

  /** read(), with ENOENT as undefined. */
  tryRead(path: string): Lwt.Lwt<string | undefined> {
    return Lwt.catch_(
      () => this.read(path),
      (e) => {
        if (e instanceof XsError && e.errno === 'ENOENT') return undefined;
        throw e;
      },
    );
  }
}

function okReply(path: string, op: string) {
  return (m: XsMessage): void => {
    // cxenstored answers "OK\0"; accept any NUL-terminated string, but not garbage without a NUL.
    if (m.payload.length > 0 && m.payload[m.payload.length - 1] !== 0) throw new XsProtocolError(`xenstore ${op} ${path}: malformed reply (no NUL)`);
  };
}

function strings(m: XsMessage, op: string, path: string): string[] {
  const s = splitStrings(m.payload);
  if (s === undefined) throw new XsProtocolError(`xenstore ${op} ${path}: malformed reply (not a NUL-terminated list)`);
  return s;
}

/** A transaction's handle: every operation carries its tx_id. */
export class XsTransaction extends XsHandle {}

export class XsClient extends XsHandle {
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
    super(undefined as unknown as XsClient, 0);
    (this as unknown as { client: XsClient }).client = this;
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

  // ------------------------------------------------------------ domain, watches, transactions

  /** XS_GET_DOMAIN_PATH: `/local/domain/<domid>`. */
  getDomainPath(domid: number): Lwt.Lwt<string> {
    return this.request(XS_GET_DOMAIN_PATH, 0, String(domid), [String(domid)]).map_((m) => {
      const s = strings(m, 'GET_DOMAIN_PATH', String(domid));
      if (s.length !== 1) throw new XsProtocolError('xenstore GET_DOMAIN_PATH: malformed reply');
      return s[0]!;
    });
  }

  /**
   * A watch on `path` (and its descendants): emits changed paths, starting
   * with the daemon's initial event. A WATCH error (EINVAL, E2BIG…) is the
   * Observable's error; unsubscribing sends UNWATCH.
   */
  watch(path: string): Observable<string> {
    return new Observable<string>((subscriber) => {
      const token = `xenode-${this.nextToken++}`;
      let live = true;
      this.watches.set(token, {
        path,
        next: (p) => subscriber.next(p),
        error: (e) => subscriber.error(e),
      });
      // A WATCH that timed out may still be set up by the daemon: unwatch it when its reply comes.
      const unwatch = () => void Lwt.catch_(() => this.request(XS_UNWATCH, 0, path, [path, token]).map_(() => undefined), () => undefined);
      Lwt.catch_(
        () => this.request(XS_WATCH, 0, path, [path, token], undefined, unwatch).map_(() => undefined),
        (e) => {
          if (!live) return;
          live = false;
          this.watches.delete(token);
          subscriber.error(e);
        },
      );
      return () => {
        if (!live) return;
        live = false;
        this.watches.delete(token);
        if (!this.failed) unwatch();
      };
    });
  }

  /**
   * The value of `path` now and after every change: a watch, with a read at
   * each event. A newer event cancels the read still in flight (switchMap).
   * An error reply (ENOENT: gone, EACCES…) reads as undefined; a broken
   * stream is the Observable's error.
   */
  values(path: string): Observable<string | undefined> {
    return this.watch(path).pipe(
      switchMap(() => fromLwt(() => Lwt.catch_(() => this.read(path), (e) => (e instanceof XsError ? undefined : Lwt.fail<string | undefined>(e))))),
    );
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

  /**
   * XS_TRANSACTION_START. If the caller has given up (canceled) by the time
   * the reply comes, the new transaction is ended (F) then.
   */
  startTransaction(): Lwt.Lwt<XsTransaction> {
    const abortLate = (m: XsMessage) => {
      const id = Number(splitStrings(m.payload)?.[0]);
      if (Number.isInteger(id) && id > 0) Lwt.catch_(() => this.endTransaction(new XsTransaction(this, id), false), () => undefined);
    };
    return this.request(XS_TRANSACTION_START, 0, '', [''], undefined, abortLate).map_((m) => {
      const s = strings(m, 'TRANSACTION_START', '');
      const id = Number(s[0]);
      if (s.length !== 1 || !/^\d+$/.test(s[0]!) || id === 0 || id > 0xffffffff) throw new XsProtocolError(`xenstore TRANSACTION_START: malformed id "${s[0]}"`);
      return new XsTransaction(this, id);
    });
  }

  /** XS_TRANSACTION_END: commit (true) or abort. Rejects with XsError EAGAIN on a conflict. */
  endTransaction(t: XsTransaction, commit: boolean): Lwt.Lwt<void> {
    return this.request(XS_TRANSACTION_END, t.txId, '', [commit ? 'T' : 'F']).map_(okReply('', 'TRANSACTION_END'));
  }

  /**
   * One attempt: start, run `fn`, commit. If `fn` fails (or is canceled) the
   * transaction is aborted and the error passed on; a commit's EAGAIN is
   * passed on for retryEagain.
   */
  private attempt<T>(fn: (t: XsTransaction, attempt: number) => Lwt.Lwt<T> | PromiseLike<T> | T, n: number): Lwt.Lwt<T> {
    return this.startTransaction().bind_((t) => {
      const body = Lwt.catch_(
        () => {
          const r = fn(t, n);
          return r instanceof Lwt.Lwt ? r : isThenable(r) ? Lwt.of_promise(r) : Lwt.return_(r as T);
        },
        (e) =>
          Lwt.catch_(
            () => this.endTransaction(t, false),
            () => undefined,
          ).bind_(() => Lwt.fail<T>(e)),
      );
      return body.bind_((v) => this.endTransaction(t, true).map_(() => v));
    });
  }

  /**
   * Runs `fn` in a transaction and commits, as an Observable (one value, then
   * complete): each subscription is a fresh run; on EAGAIN `fn` runs again
   * in a new transaction (up to 100 attempts, with back-off on virtual time).
   * Unsubscribing cancels the attempt under way: a request of `fn`'s in flight
   * is canceled and the transaction aborted (an async `fn` is not cancelable
   * past its own awaits: it runs on and is aborted or committed at its end).
   */
  transaction$<T>(fn: (t: XsTransaction, attempt: number) => Lwt.Lwt<T> | PromiseLike<T> | T): Observable<T> {
    return defer(() => {
      let n = 0;
      return this.retryEagain(defer(() => fromLwt(() => this.attempt(fn, n++))), MAX_TX_ATTEMPTS - 1);
    });
  }

  /** transaction$ as a Lwt (cancelable: cancelling it unsubscribes). */
  transaction<T>(fn: (t: XsTransaction, attempt: number) => Lwt.Lwt<T> | PromiseLike<T> | T): Lwt.Lwt<T> {
    return toLwt(this.transaction$(fn));
  }
}

function isThenable<T>(x: unknown): x is PromiseLike<T> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof (x as { then?: unknown }).then === 'function';
}

/** What Xs.connect needs from the runtime (a subset of start.ts's Platform). */
export interface XsPlatform {
  doors: { frame(gpfn: number): ArrayBuffer; point(label: string): void };
  hyper: { getParam(index: number): number; portOp(op: 'send' | 'unmask' | 'close', port: number): number };
  evtchn: { unmask(port: number): void };
  activations: { counter(port: number): number; after(port: number, counter: number): Lwt.Lwt<number> };
}

let shared: XsClient | undefined;

export const Xs = {
  /** A client over an explicit transport (tests). */
  create(io: XsIO, opts?: { timeoutMs?: number }): XsClient {
    return new XsClient(io, opts);
  },
  /**
   * The domain's client (one per kernel): HVM_PARAM_STORE_PFN/EVTCHN, then
   * unmask the store port through the runtime's unmask (which re-raises an
   * event that arrived while it was masked, e.g. xenstored's connect notify).
   * Timeouts and back-off run on the guest's virtual-time scheduler.
   */
  connect(pf?: XsPlatform, opts?: { timeoutMs?: number; scheduler?: SchedulerLike }): XsClient {
    if (shared && !pf) return shared;
    const p = pf ?? platform();
    const port = p.hyper.getParam(HVM_PARAM.STORE_EVTCHN);
    const pfn = p.hyper.getParam(HVM_PARAM.STORE_PFN);
    if (!pfn || !port) throw new Error('xenstore: no store ring (HVM_PARAM_STORE_PFN/EVTCHN unset)');
    const c = new XsClient(
      {
        page: p.doors.frame(pfn),
        notify: () => void p.hyper.portOp('send', port),
        counter: () => p.activations.counter(port),
        after: (n) => p.activations.after(port, n),
        point: (l) => p.doors.point(l),
        scheduler: opts?.scheduler ?? (pf ? undefined : scheduler()),
      },
      opts,
    );
    p.evtchn.unmask(port);
    if (!pf) shared = c;
    if (opts?.timeoutMs !== undefined) c.timeoutMs = opts.timeoutMs;
    return c;
  },
};

function platform(): XsPlatform {
  return Main.platform;
}
