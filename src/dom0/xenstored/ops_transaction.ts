// TRANSACTION_START and TRANSACTION_END (cxenstored 4.17
// xenstored_transaction.c: do_transaction_start, do_transaction_end); the
// transaction itself is transaction.ts.

import { unprivileged } from './node_access.ts';
import { asciiz, onearg } from './op_args.ts';
import { OK, replyError, type Handler } from './op_context.ts';

export const doTransactionStart: Handler = (x) => {
  if (x.inTx) replyError('EBUSY');
  const c = x.c;
  if (unprivileged(x) && c.transactions.size > x.d.quotas.transactions) replyError('ENOSPC');
  let id = c.nextTxId;
  while (id === 0 || c.transactions.has(id)) id = (id + 1) >>> 0;
  c.nextTxId = (id + 1) >>> 0;
  c.transactions.set(id, x.d.newTransaction(id, c));
  return asciiz(String(id));
};

export const doTransactionEnd: Handler = (x) => {
  const arg = onearg(x.m.payload);
  if (arg !== 'T' && arg !== 'F') replyError('EINVAL');
  if (!x.inTx) replyError('ENOENT');
  const c = x.c;
  const t = c.transactions.get(x.m.txId)!;
  c.transactions.delete(x.m.txId);
  // Its records stop counting now, committed or not (the commit stores its own).
  t.release();
  if (arg === 'T') {
    // do_transaction_end's order: a doomed transaction, then the node quota
    // of every domain whose count it changes (transaction_fix_domains: the
    // count after commit must stay below the quota, dom0 exempt), then conflicts.
    if (t.failed) replyError('ENOMEM');
    for (const [domid, delta] of t.ownerDeltas()) {
      if (domid !== 0 && x.d.store.ownedBy(domid) + delta >= x.d.quotas.nodes) replyError('ENOSPC');
    }
    if (!t.valid()) replyError('EAGAIN');
    for (const [path, change] of t.apply()) x.d.fire(path, change);
  }
  return OK;
};
