// INTRODUCE, RELEASE, RESUME, IS_DOMAIN_INTRODUCED, GET_DOMAIN_PATH,
// SET_TARGET, and what a released domain leaves behind (cxenstored 4.17
// xenstored_domain.c: do_introduce, do_release, do_resume,
// do_is_domain_introduced, do_get_domain_path, do_set_target).

import { asciiz, atoi, getStrings, onearg } from './op_args.ts';
import { OK, replyError, type Handler, type OpContext } from './op_context.ts';
import { removeTree } from './ops_write.ts';
import { homePath, parentOf } from './path.ts';
import type { Store } from './tree/store.ts';
import type { BaseView } from './transaction.ts';

export const doIntroduce: Handler = (x) => {
  const s = getStrings(x.m.payload, 3);
  if (s.length < 3) replyError('EINVAL');
  const domid = atoi(s[0]!) >>> 0;
  const gfn = Number(/^\s*(\d+)/.exec(s[1]!)?.[1] ?? 0);
  const port = atoi(s[2]!);
  if (port <= 0) replyError('EINVAL');
  const err = x.d.introduce(domid, gfn, port);
  if (err) replyError(err);
  return OK;
};

/** onearg_domain: a live (introduced) domain other than dom0. */
function argDomain(x: OpContext): number {
  const a = onearg(x.m.payload);
  if (a === undefined) replyError('EINVAL');
  const domid = atoi(a) >>> 0;
  if (domid === 0) replyError('EINVAL');
  // find_connected_domain: a domain known only from perms or node owners is
  // not there for RELEASE/RESUME/SET_TARGET (observed: ENOENT).
  const dom = x.d.domains.get(domid);
  if (!dom || !dom.introduced) replyError('ENOENT');
  return domid;
}

export const doRelease: Handler = (x) => {
  x.d.releaseDomain(argDomain(x), true);
  return OK;
};

export const doResume: Handler = (x) => {
  x.d.domains.get(argDomain(x))!.shutdown = false;
  return OK;
};

export const doIsDomainIntroduced: Handler = (x) => {
  const a = onearg(x.m.payload);
  if (a === undefined) replyError('EINVAL');
  const domid = atoi(a) >>> 0;
  const dom = x.d.domains.get(domid);
  return asciiz(domid === 0 || dom?.introduced ? 'T' : 'F');
};

export const doGetDomainPath: Handler = (x) => {
  const a = onearg(x.m.payload);
  if (a === undefined) replyError('EINVAL');
  return asciiz(homePath(atoi(a) >>> 0));
};

export const doSetTarget: Handler = (x) => {
  const s = getStrings(x.m.payload, 2);
  if (s.length < 2) replyError('EINVAL');
  const domid = atoi(s[0]!) >>> 0;
  const tdomid = atoi(s[1]!) >>> 0;
  const dom = x.d.domains.get(domid);
  const tdom = x.d.domains.get(tdomid);
  if (!dom?.introduced || !tdom?.introduced) replyError('ENOENT');
  dom.target = tdomid;
  if (dom.conn) dom.conn.target = tdomid;
  return OK;
};

/**
 * What a released or dead domain leaves behind: every node it owns goes
 * (XSA-322/419: a reused domid inherits nothing), subtree by subtree,
 * through the committed view so watches fire as for an RM.
 */
export function removeOwnedNodes(store: Store, base: BaseView, domid: number): void {
  if (store.ownedBy(domid) === 0) return;
  // Pre-order walk from /: a subtree whose top is owned goes entirely.
  const stack = ['/'];
  const doomed: string[] = [];
  while (stack.length) {
    const p = stack.pop()!;
    const n = store.get(p);
    if (!n) continue;
    if (p !== '/' && n.perms[0]!.id === domid) {
      doomed.push(p);
      continue;
    }
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(p === '/' ? `/${n.children[i]}` : `${p}/${n.children[i]}`);
  }
  for (const p of doomed) {
    const n = store.get(p);
    if (!n) continue;
    removeTree(base, p, n);
    const pp = parentOf(p);
    const parent = store.get(pp);
    if (parent) {
      const i = parent.children.indexOf(p.slice(p.lastIndexOf('/') + 1));
      if (i >= 0) {
        const children = parent.children.slice();
        const [name] = children.splice(i, 1);
        store.set(pp, { ...parent, children, childLen: parent.childLen - name!.length - 1, gen: store.nextGen() });
      }
    }
  }
}
