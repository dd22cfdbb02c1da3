// The error a request handler (or a transaction view) throws: one of Xen's
// error names, sent back as XS_ERROR.

import type { XsdError } from '../../abi/xs_wire.ts';

/** An error reply. Not an Error subclass: no stack capture on the request path. */
export class XsError {
  constructor(readonly name: XsdError) {}
}
