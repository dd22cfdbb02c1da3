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
}

export const DEFAULT_QUOTAS: Readonly<Quotas> = Object.freeze({
  nodes: 1000,
  watches: 128,
  transactions: 10,
  outstanding: 20,
  nodeSize: 2048,
  perms: 5,
  transactionNodes: 1024,
});

/** Names and order as in cxenstored's `quota` control command. */
export const QUOTA_NAMES: ReadonlyArray<[keyof Quotas, string, string]> = [
  ['nodes', 'nodes', 'Max. number of nodes per domain'],
  ['watches', 'watches', 'Max. number of watches per domain'],
  ['transactions', 'transactions', 'Max. number of transactions per domain'],
  ['outstanding', 'outstanding', 'Max. number of outstanding requests per domain'],
  ['transactionNodes', 'transaction-nodes', 'Max. number of accessed nodes per transaction'],
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
