// The `again:` loop around a xenstore transaction, shared by dom0's two
// clients: the kernel's xenbus (drivers/xen/xenbus/xenbus_xs.c users, e.g.
// xen-netback's connect: `again: xenbus_transaction_start … if (err == -EAGAIN)
// goto again`) and the toolstack's libxenstore (tools/libs/light/libxl_xshelp.c:
// libxl__xs_transaction_start/_commit, `for (;;) { … if (!rc) break; }`).
//
// Why a whole retry: xenstored answers EAGAIN to TRANSACTION_END when another
// writer changed a node this transaction read; nothing of the body took effect,
// so the body runs again on a fresh transaction, re-reading what it decided on.
// A body that throws aborts its transaction (the abort's own failure is
// dropped: the transaction may already be gone) and the error propagates.
import type { Co } from '../sim/index.ts';

export interface XsTransactionOps {
  /** XS_TRANSACTION_START: the new tx id. */
  start(): Co<number>;
  /** XS_TRANSACTION_END "T": true if committed, false if xenstored said EAGAIN; other errors throw. */
  commit(tx: number): Co<boolean>;
  /** XS_TRANSACTION_END "F". */
  abort(tx: number): Co;
}

/**
 * Runs `body` in a transaction until a commit succeeds. After `maxRetries`
 * failed commits beyond the first, throws `giveUp()` (default: retry forever,
 * as the kernel's drivers do).
 */
export function* xsTransaction<T>(ops: XsTransactionOps, body: (tx: number) => Co<T>, maxRetries = Infinity, giveUp?: () => Error): Co<T> {
  for (let i = 0; ; i++) {
    const tx = yield* ops.start();
    let r: T;
    try {
      r = yield* body(tx);
    } catch (e) {
      try {
        yield* ops.abort(tx);
      } catch {
        /* already gone */
      }
      throw e;
    }
    if (yield* ops.commit(tx)) return r;
    if (i >= maxRetries) throw giveUp ? giveUp() : new Error('xenstore transaction: EAGAIN');
  }
}
