// One handler per message type, following cxenstored 4.17 (xenstored_core.c,
// xenstored_domain.c, xenstored_watch.c, xenstored_transaction.c,
// xenstored_control.c). A handler returns the reply payload, NO_REPLY if it
// already wrote its reply (WATCH: ack, then the first event), or throws
// ErrorReply with one of Xen's error names.

import {
  XENSTORE_PAYLOAD_MAX, XENSTORE_REL_PATH_MAX, XS_CONTROL, XS_DIRECTORY, XS_DIRECTORY_PART, XS_GET_DOMAIN_PATH,
  XS_GET_PERMS, XS_INTRODUCE, XS_IS_DOMAIN_INTRODUCED, XS_MKDIR, XS_READ, XS_RELEASE, XS_RESET_WATCHES, XS_RESUME,
  XS_RM, XS_SET_PERMS, XS_SET_TARGET, XS_TRANSACTION_END, XS_TRANSACTION_START, XS_UNWATCH, XS_WATCH, XS_WRITE,
  latin1, latin1Bytes, type XsMessage, type XsdError,
} from '../../abi/xs_wire.ts';
import { DOMID_FIRST_RESERVED } from '../../abi/xen.ts';
import type { Connection } from './connection.ts';
import { ErrorReply } from './errors.ts';
import { baseName, canonicalize, childPath, homePath, isRelative, isSpecial, isValidNodename, parentOf } from './path.ts';
import {
  XS_PERM_OWNER, XS_PERM_READ, XS_PERM_WRITE, parsePerms, permForConn, permToString, type Perm, type Perms,
} from './perms.ts';
import { QUOTA_NAMES, nodeMemory, nodeRecordSize, type Quotas } from './quota.ts';
import { childList, emptyNode, makeNode, withChild, withoutChild, type Store, type XsNode } from './tree/store.ts';
import type { BaseView, TreeView } from './transaction.ts';
import type { Xenstored } from './xenstored.ts';

export { ErrorReply };

export const NO_REPLY: unique symbol = Symbol('no reply');
export type Reply = Uint8Array | typeof NO_REPLY;

export interface OpContext {
  readonly d: Xenstored;
  readonly c: Connection;
  readonly m: XsMessage;
  /** The transaction named by tx_id, if any (undefined for XS_FLAG_NOTID types). */
  readonly view: TreeView;
  readonly inTx: boolean;
}

export type Handler = (x: OpContext) => Reply;

const OK = new Uint8Array([0x4f, 0x4b, 0]);
const EMPTY = new Uint8Array(0);

function fail(name: XsdError, failsTransaction = false): never {
  throw new ErrorReply(name, failsTransaction);
}

// ---------------------------------------------------------------- arguments

/** cxenstored's onearg(): the whole payload is one NUL-terminated string. */
function onearg(p: Uint8Array): string | undefined {
  const n = p.length;
  if (n === 0 || p[n - 1] !== 0) return undefined;
  const i = p.indexOf(0);
  return i === n - 1 ? latin1(p, 0, i) : undefined;
}

/** cxenstored's get_strings(): complete NUL-terminated strings, at most `max`; trailing bytes ignored. */
function getStrings(p: Uint8Array, max = Infinity): string[] {
  const out: string[] = [];
  let off = 0;
  while (out.length < max) {
    const i = p.indexOf(0, off);
    if (i < 0) break;
    out.push(latin1(p, off, i));
    off = i + 1;
  }
  return out;
}

/** C atoi(): optional blanks and sign, then digits; anything else stops. Wraps like a 32-bit int. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(s);
  if (!m || !m[2]) return 0;
  let v = 0;
  for (const ch of m[2].slice(-12)) v = (v * 10 + ch.charCodeAt(0) - 48) % 4294967296;
  if (m[1] === '-') v = -v;
  return v | 0;
}

function asciiz(s: string): Uint8Array {
  const out = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

// ---------------------------------------------------------------- node access

function perm(x: OpContext, n: XsNode): number {
  return permForConn(x.c, n.perms, n.gen, x.d.domains.generationOf);
}

/** cxenstored's canonicalize + is_valid_nodename; EINVAL if bad. */
function nodePath(x: OpContext, raw: string | undefined, allowSpecial = false): string {
  if (raw === undefined) fail('EINVAL');
  const p = canonicalize(x.c.domid, raw);
  if (!isValidNodename(p, allowSpecial)) fail('EINVAL');
  return p;
}

/**
 * errno_from_parents: a missing or forbidden node reports its own error only
 * if the nearest existing ancestor is readable; otherwise EACCES, so guests
 * cannot probe for the existence of nodes they may not see.
 */
function errnoFromParents(x: OpContext, path: string, err: XsdError, want: number): XsdError {
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
function getNode(x: OpContext, path: string, want: number): XsNode {
  const n = x.view.read(path);
  if (n && (perm(x, n) & want) === want) return n;
  if (x.c.privileged) fail(n ? 'EACCES' : 'ENOENT');
  fail(errnoFromParents(x, path, n ? 'EACCES' : 'ENOENT', want));
}

function unprivileged(x: OpContext): boolean {
  return !x.c.privileged;
}

/** One record a request is about to store: the new record's shape, and the record it replaces. */
type Written = [path: string, perms: Perms, valueLen: number, childLen: number, before: XsNode | undefined];

/**
 * The memory quota (cxenstored: write_node_raw → domain_memory_add_chk): an
 * unprivileged writer may not take an owner past `memory` bytes. EIO, as
 * cxenstored answers (observed for creations and rewrites); inside a
 * transaction it dooms the transaction too (write_node → fail_transaction).
 * Outside a transaction a rewrite is charged the difference; inside, the
 * whole new record (cxenstored keeps the transaction's copy besides the node).
 */
function checkMemory(x: OpContext, writes: Written[]): void {
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
    if (used + d > x.d.quotas.memory) fail('EIO', true);
    if (used <= x.d.quotas.memorySoft && used + d > x.d.quotas.memorySoft) {
      x.d.log(`xenstored: domain ${domid} exceeds soft memory quota (${used + d} > ${x.d.quotas.memorySoft} bytes)`);
    }
  }
}

function checkSize(x: OpContext, perms: Perms, valueLen: number, childLen: number): void {
  // Observed on cxenstored: a record of exactly node-size bytes is already refused.
  // write_node_raw's quota: inside a transaction it fails the transaction too.
  if (unprivileged(x) && nodeRecordSize(perms, valueLen, childLen) >= x.d.quotas.nodeSize) fail('ENOSPC', true);
}

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
  if (!(perm(x, parent) & XS_PERM_WRITE)) fail('EACCES');
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
    if (x.inTx ? x.d.store.ownedBy(x.c.domid) >= x.d.quotas.nodes : v.owned(x.c.domid) + missing.length > x.d.quotas.nodes) fail('ENOSPC');
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

// ---------------------------------------------------------------- handlers

const read: Handler = (x) => {
  // Malformed args: EINVAL (cxenstored returns a stale errno here; deliberate deviation).
  const path = nodePath(x, onearg(x.m.payload));
  return getNode(x, path, XS_PERM_READ).value;
};

const directory: Handler = (x) => {
  const path = nodePath(x, onearg(x.m.payload));
  const n = getNode(x, path, XS_PERM_READ);
  return childList(n);
};

const directoryPart: Handler = (x) => {
  const s = getStrings(x.m.payload);
  if (s.length !== 2 || countNuls(x.m.payload) !== 2) fail('EINVAL');
  const n = getNode(x, nodePath(x, s[0]), XS_PERM_READ);
  const off = atoi(s[1]!);
  const gen = asciiz(String(n.gen));
  const list = childList(n);
  if (off < 0 || off >= list.length) {
    const out = new Uint8Array(gen.length + 1);
    out.set(gen);
    return out;
  }
  // Whole names from the byte offset on, while gen + names stays under 4096.
  let len = 0;
  while (off + len < list.length) {
    const end = list.indexOf(0, off + len);
    const l = end - (off + len) + 1;
    if (gen.length + len + l >= XENSTORE_PAYLOAD_MAX) break;
    len += l;
  }
  const last = off + len === list.length;
  const out = new Uint8Array(gen.length + len + (last ? 1 : 0));
  out.set(gen);
  out.set(list.subarray(off, off + len), gen.length);
  return out;
};

function countNuls(p: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === 0) n++;
  return n;
}

const write: Handler = (x) => {
  const p = x.m.payload;
  const nul = p.indexOf(0);
  if (nul < 0) fail('EINVAL');
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
      if (e !== 'ENOENT') fail(e);
    }
    createNode(x, path, value);
  }
  v.changed(path, false, undefined);
  return OK;
};

const mkdir: Handler = (x) => {
  const path = nodePath(x, onearg(x.m.payload));
  const n = x.view.read(path);
  if (n) {
    getNode(x, path, XS_PERM_WRITE);
    return OK;
  }
  if (!x.c.privileged) {
    const e = errnoFromParents(x, path, 'ENOENT', XS_PERM_WRITE);
    if (e !== 'ENOENT') fail(e);
  }
  createNode(x, path, EMPTY);
  x.view.changed(path, false, undefined);
  return OK;
};

const rm: Handler = (x) => {
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
  if (path === '/') fail('EINVAL');
  const parentPath = parentOf(path);
  const parent = v.read(parentPath);
  // Nothing below fails outside a transaction; inside one, a transaction-nodes
  // ENOSPC part-way through the subtree is undone by the transaction's rollback.
  removeTree(v, path, n);
  if (parent) v.write(parentPath, withoutChild(parent, baseName(path), v.newGen()));
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

const getPerms: Handler = (x) => {
  const path = nodePath(x, onearg(x.m.payload));
  const n = getNode(x, path, XS_PERM_READ);
  return asciizList(n.perms.map(permToString));
};

function asciizList(parts: readonly string[]): Uint8Array {
  let len = 0;
  for (const s of parts) len += s.length + 1;
  const out = new Uint8Array(len);
  let o = 0;
  for (const s of parts) {
    for (let i = 0; i < s.length; i++) out[o++] = s.charCodeAt(i) & 0xff;
    out[o++] = 0;
  }
  return out;
}

const setPerms: Handler = (x) => {
  const p = x.m.payload;
  const num = countNuls(p);
  if (num < 2) fail('EINVAL');
  if (unprivileged(x) && num - 1 > x.d.quotas.perms) fail('ENOSPC');
  const s = getStrings(p, num);
  const perms = parsePerms(s.slice(1));
  if (!perms) fail('EINVAL');
  const raw = s[0]!;
  if (isSpecial(raw)) {
    // Observed on cxenstored: a guest gets EINVAL for the specials.
    if (unprivileged(x)) fail('EINVAL');
    const cur = x.d.specialPerms.get(raw);
    if (!cur) fail('ENOENT');
    if ((permForConn(x.c, cur, Infinity, x.d.domains.generationOf) & (XS_PERM_WRITE | XS_PERM_OWNER)) !== (XS_PERM_WRITE | XS_PERM_OWNER)) fail('EACCES');
    checkPermOwner(perms);
    allocPermDomains(x, perms);
    x.d.specialPerms.set(raw, perms);
    return OK;
  }
  const path = nodePath(x, raw);
  const n = getNode(x, path, XS_PERM_WRITE | XS_PERM_OWNER);
  if (unprivileged(x) && perms[0]!.id !== n.perms[0]!.id) fail('EPERM');
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
  if (perms[0]!.id >= DOMID_FIRST_RESERVED) fail('ENOENT');
}

/** Makes every domain the list names known (cxenstored's domain_alloc_permrefs); call once nothing can fail. */
function allocPermDomains(x: OpContext, perms: Perms): void {
  for (const p of perms) x.d.domains.getOrAlloc(p.id, x.d.store.gen);
}

const watch: Handler = (x) => {
  const s = getStrings(x.m.payload);
  if (s.length !== 2) fail('EINVAL');
  let path = s[0]!;
  const token = s[1]!;
  let relative = false;
  if (isSpecial(path)) {
    if (path.length > XENSTORE_REL_PATH_MAX) fail('EINVAL');
  } else {
    relative = isRelative(path);
    path = nodePath(x, path);
  }
  const d = x.d;
  if (d.watches.find(x.c, path, token)) fail('EEXIST');
  if (unprivileged(x) && x.c.watches.length > d.quotas.watches) fail('E2BIG');
  const w = d.watches.add(x.c, path, token, relative);
  d.send(x.c, XS_WATCH, x.m.reqId, x.m.txId, OK);
  // Fired once up front, without a permission check (cxenstored does the same).
  d.sendEvent(w, path);
  return NO_REPLY;
};

const unwatch: Handler = (x) => {
  const s = getStrings(x.m.payload);
  if (s.length !== 2) fail('EINVAL');
  // cxenstored only canonicalises here: a malformed path is simply not found.
  const path = canonicalize(x.c.domid, s[0]!);
  const w = x.d.watches.find(x.c, path, s[1]!);
  if (!w) fail('ENOENT');
  x.d.watches.remove(w);
  return OK;
};

const transactionStart: Handler = (x) => {
  if (x.inTx) fail('EBUSY');
  const c = x.c;
  if (unprivileged(x) && c.transactions.size > x.d.quotas.transactions) fail('ENOSPC');
  let id = c.nextTxId;
  while (id === 0 || c.transactions.has(id)) id = (id + 1) >>> 0;
  c.nextTxId = (id + 1) >>> 0;
  c.transactions.set(id, x.d.newTransaction(id, c));
  return asciiz(String(id));
};

const transactionEnd: Handler = (x) => {
  const arg = onearg(x.m.payload);
  if (arg !== 'T' && arg !== 'F') fail('EINVAL');
  if (!x.inTx) fail('ENOENT');
  const c = x.c;
  const t = c.transactions.get(x.m.txId)!;
  c.transactions.delete(x.m.txId);
  // Its records stop counting now, committed or not (the commit stores its own).
  t.release();
  if (arg === 'T') {
    // do_transaction_end's order: a doomed transaction, then the node quota
    // of every domain whose count it changes (transaction_fix_domains: the
    // count after commit must stay below the quota, dom0 exempt), then conflicts.
    if (t.failed) fail('ENOMEM');
    for (const [domid, delta] of t.ownerDeltas()) {
      if (domid !== 0 && x.d.store.ownedBy(domid) + delta >= x.d.quotas.nodes) fail('ENOSPC');
    }
    if (!t.valid()) fail('EAGAIN');
    for (const [path, change] of t.apply()) x.d.fire(path, change);
  }
  return OK;
};

const introduce: Handler = (x) => {
  const s = getStrings(x.m.payload, 3);
  if (s.length < 3) fail('EINVAL');
  const domid = atoi(s[0]!) >>> 0;
  const gfn = Number(/^\s*(\d+)/.exec(s[1]!)?.[1] ?? 0);
  const port = atoi(s[2]!);
  if (port <= 0) fail('EINVAL');
  const err = x.d.introduce(domid, gfn, port);
  if (err) fail(err);
  return OK;
};

/** onearg_domain: a live (introduced) domain other than dom0. */
function argDomain(x: OpContext): number {
  const a = onearg(x.m.payload);
  if (a === undefined) fail('EINVAL');
  const domid = atoi(a) >>> 0;
  if (domid === 0) fail('EINVAL');
  // find_connected_domain: a domain known only from perms or node owners is
  // not there for RELEASE/RESUME/SET_TARGET (observed: ENOENT).
  const dom = x.d.domains.get(domid);
  if (!dom || !dom.introduced) fail('ENOENT');
  return domid;
}

const release: Handler = (x) => {
  x.d.releaseDomain(argDomain(x), true);
  return OK;
};

const resume: Handler = (x) => {
  x.d.domains.get(argDomain(x))!.shutdown = false;
  return OK;
};

const isDomainIntroduced: Handler = (x) => {
  const a = onearg(x.m.payload);
  if (a === undefined) fail('EINVAL');
  const domid = atoi(a) >>> 0;
  const dom = x.d.domains.get(domid);
  return asciiz(domid === 0 || dom?.introduced ? 'T' : 'F');
};

const getDomainPath: Handler = (x) => {
  const a = onearg(x.m.payload);
  if (a === undefined) fail('EINVAL');
  return asciiz(homePath(atoi(a) >>> 0));
};

const setTarget: Handler = (x) => {
  const s = getStrings(x.m.payload, 2);
  if (s.length < 2) fail('EINVAL');
  const domid = atoi(s[0]!) >>> 0;
  const tdomid = atoi(s[1]!) >>> 0;
  const dom = x.d.domains.get(domid);
  const tdom = x.d.domains.get(tdomid);
  if (!dom?.introduced || !tdom?.introduced) fail('ENOENT');
  dom.target = tdomid;
  if (dom.conn) dom.conn.target = tdomid;
  return OK;
};

const resetWatches: Handler = (x) => {
  x.d.watches.removeAll(x.c);
  x.d.dropTransactions(x.c);
  return OK;
};

// ---------------------------------------------------------------- CONTROL

const CONTROL_HELP =
  'check\t\nlog\ton|off\nlive-update\t[-c <cmdline>] [-F] [-t <timeout>] <file>\n    Default timeout is 60 seconds.\n' +
  'logfile\t<file>\nmemreport\t[<file>]\nprint\t<string>\nquota\t[set <name> <val>|<domid>]\nquota-soft\t[set <name> <val>]\nhelp\t\n';

type ControlFn = (x: OpContext, args: string[]) => Uint8Array;
const CONTROL_CMDS: Record<string, { min: number; max: number; fn: ControlFn }> = {
  check: { min: 0, max: 0, fn: () => asciiz('OK') },
  log: {
    min: 1, max: 1,
    fn: (_x, a) => (a[0] === 'on' || a[0] === 'off' ? asciiz('OK') : fail('EINVAL')),
  },
  logfile: { min: 1, max: 1, fn: () => asciiz('OK') },
  memreport: { min: 0, max: 1, fn: () => asciiz('OK') },
  print: { min: 1, max: 1, fn: (x, a) => { x.d.log(a[0]!); return asciiz('OK'); } },
  quota: { min: 0, max: 3, fn: controlQuota },
  'quota-soft': {
    min: 0, max: 3,
    fn: (_x, a) => (a.length === 0
      ? asciiz('Quota settings:\nmemory           :  2097152 Total Xenstore memory per domain (warning level)\n')
      : fail('EINVAL')),
  },
  help: { min: 0, max: 0, fn: () => asciiz(CONTROL_HELP) },
};

function pad(n: number, w: number): string {
  return String(n).padStart(w);
}

function controlQuota(x: OpContext, a: string[]): Uint8Array {
  const q = x.d.quotas;
  if (a.length === 0) {
    const line = (name: string, v: number, what: string) => `${name.padEnd(17)}:${pad(v, 9)} ${what}\n`;
    let s = 'Quota settings:\n';
    s += line('nodes', q.nodes, 'Nodes per domain');
    s += line('watches', q.watches, 'Watches per domain');
    s += line('transactions', q.transactions, 'Transactions per domain');
    s += line('outstanding', q.outstanding, 'Outstanding requests per domain');
    s += line('transaction-nodes', q.transactionNodes, 'Max. number of accessed nodes per transaction');
    s += line('memory', q.memory, 'Total Xenstore memory per domain (error level)');
    s += line('node-size', q.nodeSize, 'Max. size of a node');
    s += line('path-max', 2048, 'Max. length of a node path');
    s += line('permissions', q.perms, 'Max. number of permissions per node');
    return asciiz(s);
  }
  if (a[0] === 'set') {
    if (a.length !== 3) fail('EINVAL');
    const e = QUOTA_NAMES.find(([, n]) => n === a[1]);
    const v = atoi(a[2]!);
    if (!e || v <= 0) fail('EINVAL');
    (q as Quotas)[e[0]] = v;
    return asciiz('OK');
  }
  if (a.length !== 1) fail('EINVAL');
  const domid = atoi(a[0]!) >>> 0;
  const dom = x.d.domains.get(domid);
  if (!dom || (!dom.introduced && domid !== 0)) fail('ENOENT');
  const line = (name: string, v: number) => `${name.padEnd(16)}:${pad(v, 9)}\n`;
  const u = x.d.usage(domid);
  let s = `Domain ${domid}:\n`;
  s += line('nodes', u.nodes);
  s += line('watches', u.watches);
  s += line('transactions', u.transactions);
  s += line('outstanding', u.outstanding);
  s += line('memory', u.memory);
  return asciiz(s);
}

const control: Handler = (x) => {
  const p = x.m.payload;
  const num = countNuls(p);
  const s = getStrings(p, num);
  if (s.length === 0) fail('EINVAL');
  const cmd = CONTROL_CMDS[s[0]!];
  if (!cmd || !Object.hasOwn(CONTROL_CMDS, s[0]!)) fail('EINVAL');
  const args = s.slice(1);
  if (args.length < cmd.min || args.length > cmd.max) fail('EINVAL');
  return cmd.fn(x, args);
};

// ---------------------------------------------------------------- table

export const XS_FLAG_NOTID = 1;
export const XS_FLAG_PRIV = 2;

/** wire_funcs[]: handler and flags per type; holes (15, 16, 20) and types ≥ 23 → ENOSYS. */
export const WIRE_FUNCS: ReadonlyArray<{ fn: Handler; flags: number } | undefined> = (() => {
  const t: Array<{ fn: Handler; flags: number } | undefined> = [];
  t[XS_CONTROL] = { fn: control, flags: XS_FLAG_PRIV };
  t[XS_DIRECTORY] = { fn: directory, flags: 0 };
  t[XS_READ] = { fn: read, flags: 0 };
  t[XS_GET_PERMS] = { fn: getPerms, flags: 0 };
  t[XS_WATCH] = { fn: watch, flags: XS_FLAG_NOTID };
  t[XS_UNWATCH] = { fn: unwatch, flags: XS_FLAG_NOTID };
  t[XS_TRANSACTION_START] = { fn: transactionStart, flags: 0 };
  t[XS_TRANSACTION_END] = { fn: transactionEnd, flags: 0 };
  t[XS_INTRODUCE] = { fn: introduce, flags: XS_FLAG_PRIV };
  t[XS_RELEASE] = { fn: release, flags: XS_FLAG_PRIV };
  t[XS_GET_DOMAIN_PATH] = { fn: getDomainPath, flags: 0 };
  t[XS_WRITE] = { fn: write, flags: 0 };
  t[XS_MKDIR] = { fn: mkdir, flags: 0 };
  t[XS_RM] = { fn: rm, flags: 0 };
  t[XS_SET_PERMS] = { fn: setPerms, flags: 0 };
  t[XS_IS_DOMAIN_INTRODUCED] = { fn: isDomainIntroduced, flags: XS_FLAG_PRIV };
  t[XS_RESUME] = { fn: resume, flags: XS_FLAG_PRIV };
  t[XS_SET_TARGET] = { fn: setTarget, flags: XS_FLAG_PRIV };
  t[XS_RESET_WATCHES] = { fn: resetWatches, flags: 0 };
  t[XS_DIRECTORY_PART] = { fn: directoryPart, flags: 0 };
  return t;
})();

export { latin1Bytes };
