// The error a request handler (or a transaction view) throws: one of Xen's
// error names, sent back as XS_ERROR (cxenstored: a handler returns the errno
// and send_error() writes the reply). Not the clients' XsError (abi/xs_wire.ts).

import type { XsdError } from '../../abi/xs_wire.ts';

/** An error reply. Not an Error subclass: no stack capture on the request path. */
export class ErrorReply {
  constructor(readonly name: XsdError) {}
}
