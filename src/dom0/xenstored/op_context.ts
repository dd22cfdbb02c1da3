// What every XS_* handler is given and may answer (cxenstored 4.17:
// xenstored_core.c's struct connection + struct buffered_data, and its
// send_reply/send_ack/send_error). A handler returns the reply payload,
// NO_REPLY if it already wrote its reply (WATCH: ack, then the first event),
// or throws ErrorReply with one of Xen's error names.

import type { XsMessage, XsdError } from '../../abi/xs_wire.ts';
import type { Connection } from './connection.ts';
import { ErrorReply } from './errors.ts';
import type { TreeView } from './transaction.ts';
import type { Xenstored } from './xenstored.ts';

export const NO_REPLY: unique symbol = Symbol('no reply');
export type Reply = Uint8Array | typeof NO_REPLY;

export interface OpContext {
  readonly d: Xenstored;
  readonly c: Connection;
  readonly m: XsMessage;
  /** The transaction named by tx_id, if any (undefined for XS_FLAG_NOTID types). */
  readonly view: TreeView;
  readonly inTx: boolean;
}

export type Handler = (x: OpContext) => Reply;

/** send_ack's payload: "OK". */
export const OK = new Uint8Array([0x4f, 0x4b, 0]);
export const EMPTY = new Uint8Array(0);

/** send_error: answers `name`; `failsTransaction` also dooms the open transaction (cxenstored's fail_transaction). */
export function replyError(name: XsdError, failsTransaction = false): never {
  throw new ErrorReply(name, failsTransaction);
}
