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
// Files: the node operations, alone or in a transaction (xs_handle.ts); the
// ring, the req_id dispatcher and the watch tokens (xs_connection.ts); watches
// as Observables (xs_watch.ts); transactions with their EAGAIN retry
// (xs_transaction.ts); this file is the client they make and Xs.connect.
//
// Design (docs/architecture.md §4.9):
// * Replies are dispatched by req_id, watch events by token; one writer and
//   one reader thread move bytes through the ring, each waiting with
//   Activations.after on a counter read before it looked (xs_connection.ts).
//   A reply larger than the ring (up to 16 + 4096 bytes) arrives in pieces.
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

import { Observable, type SchedulerLike } from 'rxjs';
import { XS_GET_DOMAIN_PATH, XsError, XsProtocolError } from '../abi/xs_wire.ts';
import { HVM_PARAM } from '../abi/xen.ts';
import { Main, scheduler } from './runtime.ts';
import * as Lwt from './lwt.ts';
import { toLwt } from './rx.ts';
import { XsConnection, type XsIO } from './xs_connection.ts';
import { strings, type XsTransaction } from './xs_handle.ts';
import { xsTransactionEnd, xsTransactionRun, xsTransactionStart, type XsTransactionFn } from './xs_transaction.ts';
import { xsValues, xsWatch } from './xs_watch.ts';

// XS_ERROR replies and a broken stream: the error types every client shares (abi/xs_wire.ts).
export { XsError, XsProtocolError };

/** The guest's xenstore client: node operations (XsHandle), watches and transactions over one connection. */
export class XsClient extends XsConnection {
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
    return xsWatch(this, path);
  }

  /**
   * The value of `path` now and after every change: a watch, with a read at
   * each event. A newer event cancels the read still in flight (switchMap).
   * An error reply (ENOENT: gone, EACCES…) reads as undefined; a broken
   * stream is the Observable's error.
   */
  values(path: string): Observable<string | undefined> {
    return xsValues(this, path);
  }

  /**
   * XS_TRANSACTION_START. If the caller has given up (canceled) by the time
   * the reply comes, the new transaction is ended (F) then.
   */
  startTransaction(): Lwt.Lwt<XsTransaction> {
    return xsTransactionStart(this);
  }

  /** XS_TRANSACTION_END: commit (true) or abort. Rejects with XsError EAGAIN on a conflict. */
  endTransaction(t: XsTransaction, commit: boolean): Lwt.Lwt<void> {
    return xsTransactionEnd(this, t, commit);
  }

  /**
   * Runs `fn` in a transaction and commits, as an Observable (one value, then
   * complete): each subscription is a fresh run; on EAGAIN `fn` runs again
   * in a new transaction (up to 100 attempts, with back-off on virtual time).
   * Unsubscribing cancels the attempt under way: a request of `fn`'s in flight
   * is canceled and the transaction aborted (an async `fn` is not cancelable
   * past its own awaits: it runs on and is aborted or committed at its end).
   */
  transaction$<T>(fn: XsTransactionFn<T>): Observable<T> {
    return xsTransactionRun(this, fn);
  }

  /** transaction$ as a Lwt (cancelable: cancelling it unsubscribes). */
  transaction<T>(fn: XsTransactionFn<T>): Lwt.Lwt<T> {
    return toLwt(this.transaction$(fn));
  }
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
