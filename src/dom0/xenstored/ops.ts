// The dispatch table of cxenstored 4.17 (xenstored_core.c: wire_funcs): one
// handler per message type, grouped by family as cxenstored's files are:
// ops_read.ts, ops_write.ts, ops_perms.ts (xenstored_core.c), ops_watch.ts
// (xenstored_watch.c), ops_transaction.ts (xenstored_transaction.c),
// ops_domain.ts (xenstored_domain.c), ops_control.ts (xenstored_control.c).
// What a handler is given and answers: op_context.ts.

import {
  XS_CONTROL, XS_DIRECTORY, XS_DIRECTORY_PART, XS_GET_DOMAIN_PATH, XS_GET_PERMS, XS_INTRODUCE, XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR, XS_READ, XS_RELEASE, XS_RESET_WATCHES, XS_RESUME, XS_RM, XS_SET_PERMS, XS_SET_TARGET, XS_TRANSACTION_END,
  XS_TRANSACTION_START, XS_UNWATCH, XS_WATCH, XS_WRITE,
} from '../../abi/xs_wire.ts';
import type { Handler } from './op_context.ts';
import { doControl } from './ops_control.ts';
import { doGetDomainPath, doIntroduce, doIsDomainIntroduced, doRelease, doResume, doSetTarget } from './ops_domain.ts';
import { doGetPerms, doSetPerms } from './ops_perms.ts';
import { doDirectory, doDirectoryPart, doRead } from './ops_read.ts';
import { doTransactionEnd, doTransactionStart } from './ops_transaction.ts';
import { doResetWatches, doUnwatch, doWatch } from './ops_watch.ts';
import { doMkdir, doRm, doWrite } from './ops_write.ts';

export const XS_FLAG_NOTID = 1;
export const XS_FLAG_PRIV = 2;

/** wire_funcs[]: handler and flags per type; holes (15, 16, 20) and types ≥ 23 → ENOSYS. */
export const WIRE_FUNCS: ReadonlyArray<{ fn: Handler; flags: number } | undefined> = (() => {
  const t: Array<{ fn: Handler; flags: number } | undefined> = [];
  t[XS_CONTROL] = { fn: doControl, flags: XS_FLAG_PRIV };
  t[XS_DIRECTORY] = { fn: doDirectory, flags: 0 };
  t[XS_READ] = { fn: doRead, flags: 0 };
  t[XS_GET_PERMS] = { fn: doGetPerms, flags: 0 };
  t[XS_WATCH] = { fn: doWatch, flags: XS_FLAG_NOTID };
  t[XS_UNWATCH] = { fn: doUnwatch, flags: XS_FLAG_NOTID };
  t[XS_TRANSACTION_START] = { fn: doTransactionStart, flags: 0 };
  t[XS_TRANSACTION_END] = { fn: doTransactionEnd, flags: 0 };
  t[XS_INTRODUCE] = { fn: doIntroduce, flags: XS_FLAG_PRIV };
  t[XS_RELEASE] = { fn: doRelease, flags: XS_FLAG_PRIV };
  t[XS_GET_DOMAIN_PATH] = { fn: doGetDomainPath, flags: 0 };
  t[XS_WRITE] = { fn: doWrite, flags: 0 };
  t[XS_MKDIR] = { fn: doMkdir, flags: 0 };
  t[XS_RM] = { fn: doRm, flags: 0 };
  t[XS_SET_PERMS] = { fn: doSetPerms, flags: 0 };
  t[XS_IS_DOMAIN_INTRODUCED] = { fn: doIsDomainIntroduced, flags: XS_FLAG_PRIV };
  t[XS_RESUME] = { fn: doResume, flags: XS_FLAG_PRIV };
  t[XS_SET_TARGET] = { fn: doSetTarget, flags: XS_FLAG_PRIV };
  t[XS_RESET_WATCHES] = { fn: doResetWatches, flags: 0 };
  t[XS_DIRECTORY_PART] = { fn: doDirectoryPart, flags: 0 };
  return t;
})();
