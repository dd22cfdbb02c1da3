// How a request reaches a node: its path checked, its permission checked,
// and the error a guest is allowed to see (cxenstored 4.17 xenstored_core.c:
// canonicalize, get_node, errno_from_parents).

import type { XsdError } from '../../abi/xs_wire.ts';
import { replyError, type OpContext } from './op_context.ts';
import { canonicalize, isValidNodename, parentOf } from './path.ts';
import { permForConn } from './perms.ts';
import type { XsNode } from './tree/store.ts';

export function perm(x: OpContext, n: XsNode): number {
  return permForConn(x.c, n.perms, n.gen, x.d.domains.generationOf);
}

/** cxenstored's canonicalize + is_valid_nodename; EINVAL if bad. */
export function nodePath(x: OpContext, raw: string | undefined, allowSpecial = false): string {
  if (raw === undefined) replyError('EINVAL');
  const p = canonicalize(x.c.domid, raw);
  if (!isValidNodename(p, allowSpecial)) replyError('EINVAL');
  return p;
}

/**
 * errno_from_parents: a missing or forbidden node reports its own error only
 * if the nearest existing ancestor is readable; otherwise EACCES, so guests
 * cannot probe for the existence of nodes they may not see.
 */
export function errnoFromParents(x: OpContext, path: string, err: XsdError, want: number): XsdError {
  let p = path;
  while (p !== '/') {
    p = parentOf(p);
    const n = x.view.read(p);
    // cxenstored: the nearest existing ancestor must grant any of the requested bits.
    if (n) return perm(x, n) & want ? err : 'EACCES';
  }
  return err;
}

/** get_node: the node if it exists and the connection has `want`; else ENOENT/EACCES as cxenstored reports them. */
export function getNode(x: OpContext, path: string, want: number): XsNode {
  const n = x.view.read(path);
  if (n && (perm(x, n) & want) === want) return n;
  if (x.c.privileged) replyError(n ? 'EACCES' : 'ENOENT');
  replyError(errnoFromParents(x, path, n ? 'EACCES' : 'ENOENT', want));
}

export function unprivileged(x: OpContext): boolean {
  return !x.c.privileged;
}
