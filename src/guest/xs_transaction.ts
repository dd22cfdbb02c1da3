// Transactions (xs_wire.h XS_TRANSACTION_START/END, libxenstore's
// xs_transaction_start/xs_transaction_end): start, run the caller's function
// with a handle carrying the tx_id, commit; a commit's EAGAIN runs it again
// (the connection's retryEagain, back-off on virtual time). A START whose
// caller gave up before its reply is ended (F) when the reply comes.

import { Observable, defer } from 'rxjs';
import { XS_TRANSACTION_END, XS_TRANSACTION_START, XsProtocolError, splitStrings, type XsMessage } from '../abi/xs_wire.ts';
import * as Lwt from './lwt.ts';
import { fromLwt } from './rx.ts';
import type { XsConnection } from './xs_connection.ts';
import { XsTransaction, okReply, strings } from './xs_handle.ts';

const MAX_TX_ATTEMPTS = 100;

/** The caller's function: its result may be a Lwt, a native promise or a value. */
export type XsTransactionFn<T> = (t: XsTransaction, attempt: number) => Lwt.Lwt<T> | PromiseLike<T> | T;

/** XsClient.startTransaction: XS_TRANSACTION_START; a reply to a canceled start ends (F) the transaction it made. */
export function xsTransactionStart(c: XsConnection): Lwt.Lwt<XsTransaction> {
  const abortLate = (m: XsMessage) => {
    const id = Number(splitStrings(m.payload)?.[0]);
    if (Number.isInteger(id) && id > 0) Lwt.catch_(() => xsTransactionEnd(c, new XsTransaction(c, id), false), () => undefined);
  };
  return c.request(XS_TRANSACTION_START, 0, '', [''], undefined, abortLate).map_((m) => {
    const s = strings(m, 'TRANSACTION_START', '');
    const id = Number(s[0]);
    if (s.length !== 1 || !/^\d+$/.test(s[0]!) || id === 0 || id > 0xffffffff) throw new XsProtocolError(`xenstore TRANSACTION_START: malformed id "${s[0]}"`);
    return new XsTransaction(c, id);
  });
}

/** XsClient.endTransaction: XS_TRANSACTION_END, commit (true) or abort; XsError EAGAIN on a conflict. */
export function xsTransactionEnd(c: XsConnection, t: XsTransaction, commit: boolean): Lwt.Lwt<void> {
  return c.request(XS_TRANSACTION_END, t.txId, '', [commit ? 'T' : 'F']).map_(okReply('', 'TRANSACTION_END'));
}

/**
 * One attempt: start, run `fn`, commit. If `fn` fails (or is canceled) the
 * transaction is aborted and the error passed on; a commit's EAGAIN is
 * passed on for retryEagain.
 */
function attempt<T>(c: XsConnection, fn: XsTransactionFn<T>, n: number): Lwt.Lwt<T> {
  return xsTransactionStart(c).bind_((t) => {
    const body = Lwt.catch_(
      () => {
        const r = fn(t, n);
        return r instanceof Lwt.Lwt ? r : isThenable(r) ? Lwt.of_promise(r) : Lwt.return_(r as T);
      },
      (e) =>
        Lwt.catch_(
          () => xsTransactionEnd(c, t, false),
          () => undefined,
        ).bind_(() => Lwt.fail<T>(e)),
    );
    return body.bind_((v) => xsTransactionEnd(c, t, true).map_(() => v));
  });
}

/** XsClient.transaction$: each subscription runs `fn` afresh, again on EAGAIN (up to MAX_TX_ATTEMPTS). */
export function xsTransactionRun<T>(c: XsConnection, fn: XsTransactionFn<T>): Observable<T> {
  return defer(() => {
    let n = 0;
    return c.retryEagain(defer(() => fromLwt(() => attempt(c, fn, n++))), MAX_TX_ATTEMPTS - 1);
  });
}

function isThenable<T>(x: unknown): x is PromiseLike<T> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof (x as { then?: unknown }).then === 'function';
}
