// The toolstack's xenstore handle (libxenstore's xs_handle, for a privileged
// dom0 process: tools/libs/store/xs.c): request/reply over the byte-exact wire
// protocol, one outstanding request at a time per caller, watch events
// dispatched by token. Requests are encoded by abi/xs_wire.ts's argument codec.
//
// Every operation is a sim-thread coroutine (`yield* xs.read(...)`): the reply
// may come back at once (an in-process daemon) or later (a transport that
// queues); either way the calling libxl thread just waits for its req_id.

import {
  XS_DIRECTORY, XS_DIRECTORY_PART, XS_ERROR, XS_INTRODUCE, XS_MKDIR, XS_READ, XS_RELEASE, XS_RM, XS_SET_PERMS, XS_TRANSACTION_END,
  XS_TRANSACTION_START, XS_UNWATCH, XS_WATCH, XS_WATCH_EVENT, XS_WRITE, XS_GET_PERMS, XsError,
  encodeArgsMessage, encodeMessage, decodeMessageCopy, splitStrings, latin1, latin1Bytes, errorName,
} from '../../abi/xs_wire.ts';
import { WaitQueue, waitEvent, type Co } from '../../sim/index.ts';
import { xsTransaction } from '../xs_transaction.ts';

export { XsError };

/** Listings of a directory that kept changing under XS_DIRECTORY_PART before giving up with EAGAIN. */
const DIRECTORY_PART_ATTEMPTS = 10;

/** How frames reach the daemon and come back. */
export interface XsTransport {
  /** Send one whole frame to the daemon. */
  send(frame: Uint8Array): void;
  /** The client sets this; the transport calls it with each whole frame from the daemon. */
  onFrame: ((frame: Uint8Array) => void) | undefined;
}

export type WatchCb = (path: string, token: string) => void;

/** A pending request's payload until its reply comes (never read before). */
const NO_PAYLOAD = new Uint8Array(0);

interface Pending {
  type: number;
  payload: Uint8Array;
  done: boolean;
}

export class Libxenstore {
  private nextReq = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly wq = new WaitQueue();
  private readonly watchCbs = new Map<string, WatchCb>();
  /** Requests sent (for benches and tests). */
  requests = 0;

  constructor(private readonly transport: XsTransport) {
    transport.onFrame = (f) => this.deliver(f);
  }

  private deliver(frame: Uint8Array): void {
    // A copy: the transport may reuse its frame once this returns.
    const m = decodeMessageCopy(frame);
    if (m.type === XS_WATCH_EVENT) {
      const parts = splitStrings(m.payload) ?? [];
      const cb = this.watchCbs.get(parts[1] ?? '');
      if (cb) cb(parts[0] ?? '', parts[1] ?? '');
      return;
    }
    const p = this.pending.get(m.reqId);
    if (!p) return;
    p.type = m.type;
    p.payload = m.payload;
    p.done = true;
    this.wq.wakeAll();
  }

  /** One request; returns the reply payload or throws XsError. */
  *request(type: number, tx: number, payload: Uint8Array, what: string): Co<Uint8Array> {
    const r = yield* this.exchange(type, tx, payload);
    if (typeof r === 'string') throw new XsError(r, what, '');
    return r;
  }

  /**
   * One request; the reply payload, or XS_ERROR's errno name. Routine errors
   * (ENOENT from read and rm, EAGAIN from a commit) come back as a value: an
   * Error captures a stack, a cost per request that the callers which expect
   * the error would pay only to drop it.
   */
  private *exchange(type: number, tx: number, payload: Uint8Array | readonly string[], value?: Uint8Array): Co<Uint8Array | string> {
    const reqId = this.nextReq++ >>> 0;
    const p: Pending = { type: 0, payload: NO_PAYLOAD, done: false };
    this.pending.set(reqId, p);
    this.requests++;
    try {
      // Arguments are encoded straight into the frame (encodeArgsMessage: one array per request).
      this.transport.send(payload instanceof Uint8Array ? encodeMessage(type, reqId, tx, payload) : encodeArgsMessage(type, reqId, tx, payload, value));
      yield* waitEvent(this.wq, () => p.done);
    } finally {
      this.pending.delete(reqId);
    }
    if (p.type === XS_ERROR) return errorName({ type: p.type, reqId, txId: tx, payload: p.payload }) ?? 'EINVAL';
    return p.payload;
  }

  private *req(type: number, tx: number, args: string[], op: string, value?: Uint8Array): Co<Uint8Array> {
    const r = yield* this.exchange(type, tx, args, value);
    if (typeof r === 'string') throw new XsError(r, op, args[0] ?? '');
    return r;
  }

  *transactionStart(): Co<number> {
    const r = yield* this.req(XS_TRANSACTION_START, 0, [''], 'transaction_start');
    return Number(latin1(r, 0, r.indexOf(0) < 0 ? r.length : r.indexOf(0)));
  }

  /** false when the commit failed with EAGAIN (retry the transaction). */
  *transactionEnd(tx: number, commit: boolean): Co<boolean> {
    const r = yield* this.exchange(XS_TRANSACTION_END, tx, [commit ? 'T' : 'F']);
    if (r === 'EAGAIN') return false;
    if (typeof r === 'string') throw new XsError(r, 'transaction_end', commit ? 'T' : 'F');
    return true;
  }

  /** The value, or undefined if the node does not exist. */
  *read(tx: number, path: string): Co<string | undefined> {
    const r = yield* this.exchange(XS_READ, tx, [path]);
    if (r === 'ENOENT' || r === 'EACCES') return undefined;
    if (typeof r === 'string') throw new XsError(r, 'read', path);
    return latin1(r, 0, r.length);
  }

  /** XS_WRITE; the value is sent latin1 (one byte per char), as the toolstack's values are. */
  *write(tx: number, path: string, value: string): Co {
    yield* this.req(XS_WRITE, tx, [path], 'write', latin1Bytes(value));
  }

  *mkdir(tx: number, path: string): Co {
    yield* this.req(XS_MKDIR, tx, [path], 'mkdir');
  }

  /** rm; a missing node is not an error (libxl's xs_rm use ignores ENOENT). */
  *rm(tx: number, path: string): Co {
    const r = yield* this.exchange(XS_RM, tx, [path]);
    if (typeof r === 'string' && r !== 'ENOENT') throw new XsError(r, 'rm', path);
  }

  /** perms like ['n0', 'r5']. */
  *setPerms(tx: number, path: string, perms: readonly string[]): Co {
    yield* this.req(XS_SET_PERMS, tx, [path, ...perms], 'set_perms');
  }

  *getPerms(tx: number, path: string): Co<string[] | undefined> {
    const r = yield* this.exchange(XS_GET_PERMS, tx, [path]);
    if (r === 'ENOENT') return undefined;
    if (typeof r === 'string') throw new XsError(r, 'get_perms', path);
    return splitStrings(r) ?? [];
  }

  /**
   * Child names, or undefined if the node does not exist. A listing that does
   * not fit one reply (E2BIG: dom0's backend/vif holds one name per vif
   * domain, 5,000 of them in bench/scale.ts) is read in parts, as xs.c's
   * xs_directory falls back to xs_directory_part.
   */
  *directory(tx: number, path: string): Co<string[] | undefined> {
    const r = yield* this.exchange(XS_DIRECTORY, tx, [path]);
    if (r === 'ENOENT') return undefined;
    if (r === 'E2BIG') return yield* this.directoryParts(tx, path);
    if (typeof r === 'string') throw new XsError(r, 'directory', path);
    return splitStrings(r) ?? [];
  }

  /**
   * xs.c: xs_directory_part: XS_DIRECTORY_PART from byte offset 0 on; each
   * reply is the node's generation, then whole names (`name\0`...), the last
   * one with an extra `\0`. A generation that moves between parts (the
   * directory changed) starts the listing again; after a few restarts the
   * caller gets EAGAIN (xs.c loops without a bound).
   */
  private *directoryParts(tx: number, path: string): Co<string[] | undefined> {
    for (let attempt = 0; attempt < DIRECTORY_PART_ATTEMPTS; attempt++) {
      const names: string[] = [];
      let gen: string | undefined;
      for (let off = 0; ; ) {
        const r = yield* this.exchange(XS_DIRECTORY_PART, tx, [path, String(off)]);
        if (r === 'ENOENT') return undefined;
        if (typeof r === 'string') throw new XsError(r, 'directory_part', path);
        const g = r.indexOf(0);
        if (g < 0) throw new XsError('EINVAL', 'directory_part', path);
        const partGen = latin1(r, 0, g);
        if (gen === undefined) gen = partGen;
        else if (partGen !== gen) break;
        const body = r.subarray(g + 1);
        for (let i = 0, start = 0; i < body.length; i++) {
          if (body[i] !== 0) continue;
          if (i > start) names.push(latin1(body, start, i));
          start = i + 1;
        }
        off += body.length;
        if (body.length <= 1 || body[body.length - 2] === 0) return names;
      }
    }
    throw new XsError('EAGAIN', 'directory_part', path);
  }

  /** libxl__xs_mknod: an empty node with these perms. */
  *mknod(tx: number, path: string, perms: readonly string[]): Co {
    yield* this.write(tx, path, '');
    yield* this.setPerms(tx, path, perms);
  }

  *watch(path: string, token: string, cb: WatchCb): Co {
    this.watchCbs.set(token, cb);
    try {
      yield* this.req(XS_WATCH, 0, [path, token], 'watch');
    } catch (e) {
      this.watchCbs.delete(token);
      throw e;
    }
  }

  *unwatch(path: string, token: string): Co {
    this.watchCbs.delete(token);
    const r = yield* this.exchange(XS_UNWATCH, 0, [path, token]);
    if (typeof r === 'string' && r !== 'ENOENT') throw new XsError(r, 'unwatch', path);
  }

  *introduce(domid: number, gfn: number, port: number): Co {
    yield* this.req(XS_INTRODUCE, 0, [String(domid), String(gfn), String(port)], 'introduce');
  }

  *release(domid: number): Co {
    yield* this.req(XS_RELEASE, 0, [String(domid)], 'release');
  }

  /** Run `body` in a transaction, retrying on EAGAIN (libxl's `for (;;) { t = start; …; commit }`), at most `maxRetries` times. */
  *transaction<T>(body: (tx: number) => Co<T>, maxRetries = 16): Co<T> {
    const xs = this;
    const ops = {
      start: () => xs.transactionStart(),
      commit: (tx: number) => xs.transactionEnd(tx, true),
      *abort(tx: number): Co {
        yield* xs.transactionEnd(tx, false);
      },
    };
    return yield* xsTransaction(ops, body, maxRetries, () => new XsError('EAGAIN', 'transaction', ''));
  }
}
