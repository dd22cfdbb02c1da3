// GET_PERMS and SET_PERMS, on nodes and on the special @ paths (cxenstored
// 4.17 xenstored_core.c: do_get_perms, do_set_perms).

import { DOMID_FIRST_RESERVED } from '../../abi/xen.ts';
import { encodeArgs } from '../../abi/xs_wire.ts';
import { getNode, nodePath, unprivileged } from './node_access.ts';
import { checkMemory, checkSize } from './node_quota.ts';
import { countNuls, getStrings, onearg } from './op_args.ts';
import { OK, replyError, type Handler, type OpContext } from './op_context.ts';
import { isSpecial } from './path.ts';
import { XS_PERM_OWNER, XS_PERM_READ, XS_PERM_WRITE, parsePerms, permForConn, permToString, type Perms } from './perms.ts';
import { makeNode } from './tree/store.ts';

export const doGetPerms: Handler = (x) => {
  const path = nodePath(x, onearg(x.m.payload));
  const n = getNode(x, path, XS_PERM_READ);
  // The perm strings, each NUL-terminated: the request argument layout (xs_wire.h).
  return encodeArgs(n.perms.map(permToString));
};

export const doSetPerms: Handler = (x) => {
  const p = x.m.payload;
  const num = countNuls(p);
  if (num < 2) replyError('EINVAL');
  if (unprivileged(x) && num - 1 > x.d.quotas.perms) replyError('ENOSPC');
  const s = getStrings(p, num);
  const perms = parsePerms(s.slice(1));
  if (!perms) replyError('EINVAL');
  const raw = s[0]!;
  if (isSpecial(raw)) {
    // Observed on cxenstored: a guest gets EINVAL for the specials.
    if (unprivileged(x)) replyError('EINVAL');
    const cur = x.d.specialPerms.get(raw);
    if (!cur) replyError('ENOENT');
    if ((permForConn(x.c, cur, Infinity, x.d.domains.generationOf) & (XS_PERM_WRITE | XS_PERM_OWNER)) !== (XS_PERM_WRITE | XS_PERM_OWNER)) replyError('EACCES');
    checkPermOwner(perms);
    allocPermDomains(x, perms);
    x.d.specialPerms.set(raw, perms);
    return OK;
  }
  const path = nodePath(x, raw);
  const n = getNode(x, path, XS_PERM_WRITE | XS_PERM_OWNER);
  if (unprivileged(x) && perms[0]!.id !== n.perms[0]!.id) replyError('EPERM');
  checkPermOwner(perms);
  const v = x.view;
  checkSize(x, perms, n.value.length, n.childLen);
  checkMemory(x, [[path, perms, n.value.length, n.childLen, n]]);
  // Only after every check: allocating the named domains is itself a change.
  allocPermDomains(x, perms);
  v.write(path, makeNode(n.value, perms, n.children, n.childLen, v.newGen()));
  v.changed(path, false, n.perms);
  return OK;
};

/**
 * The owner is accounted to its domain, which must be able to exist (ENOENT
 * otherwise, as cxenstored); other entries may name anything.
 */
function checkPermOwner(perms: Perms): void {
  if (perms[0]!.id >= DOMID_FIRST_RESERVED) replyError('ENOENT');
}

/** Makes every domain the list names known (cxenstored's domain_alloc_permrefs); call once nothing can fail. */
function allocPermDomains(x: OpContext, perms: Perms): void {
  for (const p of perms) x.d.domains.getOrAlloc(p.id, x.d.store.gen);
}
