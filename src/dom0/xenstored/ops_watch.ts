// WATCH, UNWATCH, RESET_WATCHES (cxenstored 4.17 xenstored_watch.c:
// do_watch, do_unwatch; xenstored_domain.c: do_reset_watches).

import { XENSTORE_REL_PATH_MAX, XS_WATCH } from '../../abi/xs_wire.ts';
import { nodePath, unprivileged } from './node_access.ts';
import { getStrings } from './op_args.ts';
import { NO_REPLY, OK, replyError, type Handler } from './op_context.ts';
import { canonicalize, isRelative, isSpecial } from './path.ts';

export const doWatch: Handler = (x) => {
  const s = getStrings(x.m.payload);
  if (s.length !== 2) replyError('EINVAL');
  let path = s[0]!;
  const token = s[1]!;
  let relative = false;
  if (isSpecial(path)) {
    if (path.length > XENSTORE_REL_PATH_MAX) replyError('EINVAL');
  } else {
    relative = isRelative(path);
    path = nodePath(x, path);
  }
  const d = x.d;
  if (d.watches.find(x.c, path, token)) replyError('EEXIST');
  if (unprivileged(x) && x.c.watches.length > d.quotas.watches) replyError('E2BIG');
  const w = d.watches.add(x.c, path, token, relative);
  d.send(x.c, XS_WATCH, x.m.reqId, x.m.txId, OK);
  // Fired once up front, without a permission check (cxenstored does the same).
  d.sendEvent(w, path);
  return NO_REPLY;
};

export const doUnwatch: Handler = (x) => {
  const s = getStrings(x.m.payload);
  if (s.length !== 2) replyError('EINVAL');
  // cxenstored only canonicalises here: a malformed path is simply not found.
  const path = canonicalize(x.c.domid, s[0]!);
  const w = x.d.watches.find(x.c, path, s[1]!);
  if (!w) replyError('ENOENT');
  x.d.watches.remove(w);
  return OK;
};

export const doResetWatches: Handler = (x) => {
  x.d.watches.removeAll(x.c);
  x.d.dropTransactions(x.c);
  return OK;
};
