// WRITE, MKDIR, RM and the node creation and removal they share (cxenstored
// 4.17 xenstored_core.c: do_write, do_mkdir, do_rm, create_node,
// delete_node). Every check runs before the first write (see create_node).

import { latin1 } from '../../abi/xs_wire.ts';
import { ErrorReply } from './errors.ts';
import { errnoFromParents, getNode, nodePath, perm, unprivileged } from './node_access.ts';
import { checkMemory, checkSize, type Written } from './node_quota.ts';
import { onearg } from './op_args.ts';
import { EMPTY, OK, replyError, type Handler, type OpContext } from './op_context.ts';
import { baseName, childPath, parentOf } from './path.ts';
import { XS_PERM_WRITE, type Perm, type Perms } from './perms.ts';
import { makeNode, withChild, withoutChild, type XsNode } from './tree/store.ts';
import type { TreeView } from './transaction.ts';

/**
 * create_node: creates `path` and any missing ancestors. The nearest existing
 * ancestor needs write permission; new nodes inherit its perm list, with an
 * unprivileged creator as owner. All checks (permission, node quota for every
 * new node, node size of every record written) run before anything is
 * written, so a failure leaves the tree unchanged (XSA-414/415). In a
 * transaction, the transaction-nodes quota is checked as nodes are read, which
 * happens here before the first write too.
 */
function createNode(x: OpContext, path: string, value: Uint8Array): void {
  const v = x.view;
  const missing: string[] = [path];
  let p = parentOf(path);
  let parent = v.read(p);
  while (!parent) {
    missing.push(p);
    p = parentOf(p);
    parent = v.read(p);
  }
  if (!(perm(x, parent) & XS_PERM_WRITE)) replyError('EACCES');
  let perms: Perms = parent.perms;
  if (unprivileged(x) && perms[0]!.id !== x.c.domid) {
    const own: Perm[] = perms.slice();
    own[0] = { id: x.c.domid, perm: perms[0]!.perm };
    perms = own;
  }
  if (unprivileged(x)) {
    // cxenstored's create_node checks the domain's committed count
    // (domain_nbentry) before each new node. Outside a transaction it grows
    // with each one; inside, it does not (the transaction's own nodes are
    // counted at commit: transaction_fix_domains), so only a domain already
    // at its quota is refused here.
    if (x.inTx ? x.d.store.ownedBy(x.c.domid) >= x.d.quotas.nodes : v.owned(x.c.domid) + missing.length > x.d.quotas.nodes) replyError('ENOSPC');
    // The existing ancestor gains a child name; each new node but the last gains one too.
    const top = missing[missing.length - 1]!;
    checkSize(x, parent.perms, parent.value.length, parent.childLen + baseName(top).length + 1);
    for (let i = missing.length - 1; i >= 1; i--) checkSize(x, perms, 0, baseName(missing[i - 1]!).length + 1);
    checkSize(x, perms, value.length, 0);
    const writes: Written[] = [[path, perms, value.length, 0, undefined]];
    for (let i = 1; i < missing.length; i++) writes.push([missing[i]!, perms, 0, baseName(missing[i - 1]!).length + 1, undefined]);
    writes.push([p, parent.perms, parent.value.length, parent.childLen + baseName(top).length + 1, parent]);
    checkMemory(x, writes);
  }
  const gen = v.newGen();
  // Deepest first, then link into the existing ancestor last.
  let child = makeNode(value, perms, [], 0, gen);
  v.write(path, child);
  for (let i = 1; i < missing.length; i++) {
    const name = baseName(missing[i - 1]!);
    child = makeNode(EMPTY, perms, [name], name.length + 1, gen);
    v.write(missing[i]!, child);
  }
  v.write(p, withChild(parent, baseName(missing[missing.length - 1]!), gen));
}

export const doWrite: Handler = (x) => {
  const p = x.m.payload;
  const nul = p.indexOf(0);
  if (nul < 0) replyError('EINVAL');
  const path = nodePath(x, latin1(p, 0, nul));
  // The payload view dies with the input buffer: keep a copy.
  const value = p.slice(nul + 1);
  const v = x.view;
  const n = v.read(path);
  if (n && perm(x, n) & XS_PERM_WRITE) {
    checkSize(x, n.perms, value.length, n.childLen);
    checkMemory(x, [[path, n.perms, value.length, n.childLen, n]]);
    v.write(path, makeNode(value, n.perms, n.children, n.childLen, v.newGen()));
  } else {
    if (n) getNode(x, path, XS_PERM_WRITE); // throws EACCES (or hides it)
    else if (!x.c.privileged) {
      const e = errnoFromParents(x, path, 'ENOENT', XS_PERM_WRITE);
      if (e !== 'ENOENT') replyError(e);
    }
    createNode(x, path, value);
  }
  v.changed(path, false, undefined);
  return OK;
};

export const doMkdir: Handler = (x) => {
  const path = nodePath(x, onearg(x.m.payload));
  const n = x.view.read(path);
  if (n) {
    getNode(x, path, XS_PERM_WRITE);
    return OK;
  }
  if (!x.c.privileged) {
    const e = errnoFromParents(x, path, 'ENOENT', XS_PERM_WRITE);
    if (e !== 'ENOENT') replyError(e);
  }
  createNode(x, path, EMPTY);
  x.view.changed(path, false, undefined);
  return OK;
};

export const doRm: Handler = (x) => {
  const path = nodePath(x, onearg(x.m.payload));
  const v = x.view;
  let n: XsNode;
  try {
    n = getNode(x, path, XS_PERM_WRITE);
  } catch (e) {
    // Already gone is fine, if the parent exists.
    if (e instanceof ErrorReply && e.name === 'ENOENT' && path !== '/' && v.read(parentOf(path))) return OK;
    throw e;
  }
  if (path === '/') replyError('EINVAL');
  const parentPath = parentOf(path);
  const parent = v.read(parentPath);
  // Nothing below fails outside a transaction; inside one, a transaction-nodes
  // ENOSPC part-way through the subtree is undone by the transaction's rollback.
  removeTree(v, path, n);
  if (parent) v.write(parentPath, withoutChild(parent, baseName(path), v.newGen()));
  return OK;
};

/**
 * Deletes `path` and everything below it, post-order (children first, in
 * creation order), iteratively (deep trees must not exhaust the stack,
 * XSA-418). Each descendant fires the watches registered exactly on it; the
 * top fires its own and its ancestors' watches.
 */
export function removeTree(v: TreeView, path: string, top: XsNode): void {
  const stack: Array<{ path: string; node: XsNode; i: number }> = [{ path, node: top, i: 0 }];
  while (stack.length > 0) {
    const f = stack[stack.length - 1]!;
    if (f.i < f.node.children.length) {
      const cp = childPath(f.path, f.node.children[f.i++]!);
      const cn = v.read(cp);
      if (cn) stack.push({ path: cp, node: cn, i: 0 });
      continue;
    }
    stack.pop();
    v.changed(f.path, f.path !== path, f.node.perms);
    v.remove(f.path);
  }
}
