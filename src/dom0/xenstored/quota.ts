// Quotas for unprivileged domains, with cxenstored 4.17's defaults
// (`xenstore-control quota`) and the error each one produces.

import type { Perms } from './perms.ts';

export interface Quotas {
  /** Nodes owned by one domain ("nodes"); the 1001st → ENOSPC. */
  nodes: number;
  /** Watches per domain; checked as `count > watches` before adding, so 129 are accepted, the next → E2BIG. */
  watches: number;
  /** Open transactions; checked as `started > transactions`, so 11 open, the next → ENOSPC. */
  transactions: number;
  /** Requests whose replies the guest has not consumed yet; the ring is not read further meanwhile. */
  outstanding: number;
  /** Size of one node record as cxenstored counts it (see nodeRecordSize); larger → ENOSPC. */
  nodeSize: number;
  /** Permission entries per SET_PERMS; more → ENOSPC. */
  perms: number;
  /** Nodes touched by one transaction; more → ENOSPC. */
  transactionNodes: number;
  /**
   * Bytes of node records a domain owns (record size + path, see
   * nodeRecordSize), the nodes a transaction wrote included: a write that
   * would pass it → EIO (and dooms the transaction); a domain at or over it
   * (dom0 wrote its nodes) has its ring left unread until usage drops.
   * cxenstored's hard memory quota (`-Q memory=`).
   */
  memory: number;
  /** Usage past which one log line warns (cxenstored's soft quota, `-q memory=`). */
  memorySoft: number;
}

export const DEFAULT_QUOTAS: Readonly<Quotas> = Object.freeze({
  nodes: 1000,
  watches: 128,
  transactions: 10,
  outstanding: 20,
  nodeSize: 2048,
  perms: 5,
  transactionNodes: 1024,
  memory: 2621440,
  memorySoft: 2097152,
});

/** Names and order as in cxenstored's `quota` control command. */
export const QUOTA_NAMES: ReadonlyArray<[keyof Quotas, string, string]> = [
  ['nodes', 'nodes', 'Max. number of nodes per domain'],
  ['watches', 'watches', 'Max. number of watches per domain'],
  ['transactions', 'transactions', 'Max. number of transactions per domain'],
  ['outstanding', 'outstanding', 'Max. number of outstanding requests per domain'],
  ['transactionNodes', 'transaction-nodes', 'Max. number of accessed nodes per transaction'],
  ['memory', 'memory', 'Total Xenstore memory per domain (error level)'],
  ['nodeSize', 'node-size', 'Max. size of a node'],
  ['perms', 'permissions', 'Max. number of permissions per node'],
];

/**
 * cxenstored checks the size of the whole stored record: the 24-byte
 * `xs_tdb_record_hdr` (generation u64, num_perms, datalen, childlen, padded),
 * 8 bytes per permission, the value, and the NUL-terminated child names. So a
 * directory can hit the limit through its child list alone.
 */
export function nodeRecordSize(perms: Perms, valueLen: number, childLen: number): number {
  return 24 + 8 * perms.length + valueLen + childLen;
}

/** What one stored node costs its owner against the memory quota: the record and the key (its path). */
export function nodeMemory(path: string, perms: Perms, valueLen: number, childLen: number): number {
  return nodeRecordSize(perms, valueLen, childLen) + path.length;
}

/**
 * Bytes of transaction records per owner across every open transaction
 * (cxenstored stores them in its database, charged to the owner until the
 * transaction ends). Written by Transaction.write/rollback/release only.
 */
export class TxMemory {
  private readonly bytes = new Map<number, number>();
  add(domid: number, delta: number): void {
    const n = (this.bytes.get(domid) ?? 0) + delta;
    if (n === 0) this.bytes.delete(domid);
    else this.bytes.set(domid, n);
  }
  of(domid: number): number {
    return this.bytes.get(domid) ?? 0;
  }
}
