// One client of the daemon. Transports (socket.ts, local.ts, ring.ts) extend
// this with how bytes go out; the daemon only calls write() and flush().

import type { PermSubject } from './perms.ts';
import type { Transaction } from './transaction.ts';
import type { Watch } from './watches.ts';

export abstract class Connection implements PermSubject {
  /** Creation order: cxenstored delivers a change's events connection by connection in this order. */
  readonly seq: number;
  readonly domid: number;
  readonly privileged: boolean;
  target: number | undefined = undefined;
  readonly watches: Watch[] = [];
  readonly transactions = new Map<number, Transaction>();
  nextTxId = 1;
  closed = false;
  /** Set by the daemon when output is queued; cleared by flush. */
  dirty = false;

  constructor(seq: number, domid: number, privileged: boolean) {
    this.seq = seq;
    this.domid = domid;
    this.privileged = privileged;
  }

  /** Queues one message (reply or event). Must not block or call back into the daemon. */
  abstract write(type: number, reqId: number, txId: number, payload: Uint8Array): void;
  /** Pushes queued output to the peer. */
  abstract flush(): void;
  /** Releases transport resources; the daemon has already dropped watches/transactions. */
  abstract shutdown(): void;
}

/**
 * The key under which a watch event counts as "identical" to one still queued
 * (cxenstored 4.17, XSA-326: xenstored_core.c: send_event drops a new event
 * whose path and token equal those of an event not yet sent; `@` events are
 * exempt, a handler may rely on each one). Undefined: never deduplicated.
 */
export function eventKey(payload: Uint8Array): string | undefined {
  if (payload[0] === 64) return undefined; // '@'
  let k = '';
  for (let i = 0; i < payload.length; i++) k += String.fromCharCode(payload[i]!);
  return k;
}
