// The quotas a write is held to before anything is stored (cxenstored 4.17
// xenstored_core.c: write_node_raw's node-size and memory checks). Callers
// run them for every record a request writes, before its first write.

import { replyError, type OpContext } from './op_context.ts';
import { unprivileged } from './node_access.ts';
import type { Perms } from './perms.ts';
import { nodeMemory, nodeRecordSize } from './quota.ts';
import type { XsNode } from './tree/store.ts';

/** One record a request is about to store: the new record's shape, and the record it replaces. */
export type Written = [path: string, perms: Perms, valueLen: number, childLen: number, before: XsNode | undefined];

/**
 * The memory quota (cxenstored: write_node_raw → domain_memory_add_chk): an
 * unprivileged writer may not take an owner past `memory` bytes. EIO, as
 * cxenstored answers (observed for creations and rewrites); inside a
 * transaction it dooms the transaction too (write_node → fail_transaction).
 * Outside a transaction a rewrite is charged the difference; inside, the
 * whole new record (cxenstored keeps the transaction's copy besides the node).
 */
export function checkMemory(x: OpContext, writes: Written[]): void {
  if (!unprivileged(x)) return;
  const delta = new Map<number, number>();
  for (const [path, perms, valueLen, childLen, before] of writes) {
    const owner = perms[0]!.id;
    delta.set(owner, (delta.get(owner) ?? 0) + nodeMemory(path, perms, valueLen, childLen));
    if (before && !x.inTx) {
      const o = before.perms[0]!.id;
      delta.set(o, (delta.get(o) ?? 0) - nodeMemory(path, before.perms, before.value.length, before.childLen));
    }
  }
  for (const [domid, d] of delta) {
    if (domid === 0 || d <= 0) continue;
    const used = x.view.memory(domid);
    if (used + d > x.d.quotas.memory) replyError('EIO', true);
    if (used <= x.d.quotas.memorySoft && used + d > x.d.quotas.memorySoft) {
      x.d.log(`xenstored: domain ${domid} exceeds soft memory quota (${used + d} > ${x.d.quotas.memorySoft} bytes)`);
    }
  }
}

export function checkSize(x: OpContext, perms: Perms, valueLen: number, childLen: number): void {
  // Observed on cxenstored: a record of exactly node-size bytes is already refused.
  // write_node_raw's quota: inside a transaction it fails the transaction too.
  if (unprivileged(x) && nodeRecordSize(perms, valueLen, childLen) >= x.d.quotas.nodeSize) replyError('ENOSPC', true);
}
