// The error a request handler (or a transaction view) throws: one of Xen's
// error names, sent back as XS_ERROR (cxenstored: a handler returns the errno
// and send_error() writes the reply). Not the clients' XsError (abi/xs_wire.ts).

import type { XsdError } from '../../abi/xs_wire.ts';

/** An error reply. Not an Error subclass: no stack capture on the request path. */
export class ErrorReply {
  /**
   * @param failsTransaction inside a transaction, the failure also dooms the
   * transaction: its commit answers ENOMEM. cxenstored 4.17 does this where
   * undoing is hard: access_node's error path (the transaction-nodes quota)
   * and write_node's ("Reverting access_node() is hard, so just fail the
   * transaction": node-size and node-count quotas), then do_transaction_end:
   * `if (trans->fail) return ENOMEM`. Permission and argument errors do not.
   */
  constructor(readonly name: XsdError, readonly failsTransaction = false) {}
}
