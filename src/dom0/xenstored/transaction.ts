// Tree views and transactions (cxenstored's rule, xenstored_transaction.c
// since Xen 4.9): a transaction works on an overlay of the committed tree and
// remembers the generation of every node it touched (read, written, or read
// implicitly as a parent). Commit fails with EAGAIN if any of them changed.

import type { Perms } from './perms.ts';
import type { Store, XsNode } from './tree/store.ts';

/** A pending watch trigger: `exact` = fire only watches registered on the path itself (recursive RM). */
export interface Change {
  exact: boolean;
  /** Permissions before the change (deleted node, SET_PERMS); checked besides the current ones. */
  oldPerms: Perms | undefined;
}

/** What ops.ts reads and writes through: the committed tree or a transaction. */
export interface TreeView {
  read(path: string): XsNode | undefined;
  write(path: string, node: XsNode): void;
  remove(path: string): void;
  /** Nodes owned by `domid` as this view sees them (for the node quota). */
  owned(domid: number): number;
  /** Generation to stamp on a node written now. */
  newGen(): number;
  /** Records that `path` changed, for watches. */
  changed(path: string, exact: boolean, oldPerms: Perms | undefined): void;
  /** Number of distinct nodes touched (transaction-nodes quota); 0 outside transactions. */
  readonly touched: number;
}

export type FireFn = (path: string, change: Change) => void;

/** Outside a transaction: changes go straight to the store and fire at once. */
export class BaseView implements TreeView {
  constructor(private readonly store: Store, private readonly fire: FireFn) {}
  read(path: string): XsNode | undefined {
    return this.store.nodes.get(path);
  }
  write(path: string, node: XsNode): void {
    this.store.set(path, node);
  }
  remove(path: string): void {
    this.store.delete(path);
  }
  owned(domid: number): number {
    return this.store.ownedBy(domid);
  }
  newGen(): number {
    return this.store.nextGen();
  }
  changed(path: string, exact: boolean, oldPerms: Perms | undefined): void {
    this.fire(path, { exact, oldPerms });
  }
  get touched(): number {
    return 0;
  }
}

export class Transaction implements TreeView {
  /** path → new node, or null if deleted in this transaction. */
  private readonly overlay = new Map<string, XsNode | null>();
  /**
   * path → committed node when first touched (null = absent). Later reads see
   * this snapshot, not newer commits (as cxenstored). Insertion order = access order.
   */
  private readonly accessed = new Map<string, XsNode | null>();
  private readonly changes = new Map<string, Change>();
  private readonly ownedDelta = new Map<number, number>();

  constructor(readonly id: number, private readonly store: Store) {}

  read(path: string): XsNode | undefined {
    const o = this.overlay.get(path);
    if (o !== undefined) return o ?? undefined;
    const seen = this.accessed.get(path);
    if (seen !== undefined) return seen ?? undefined;
    const n = this.store.nodes.get(path);
    this.accessed.set(path, n ?? null);
    return n;
  }

  write(path: string, node: XsNode): void {
    const old = this.read(path);
    if (old) this.delta(old.perms[0]!.id, -1);
    this.delta(node.perms[0]!.id, 1);
    this.overlay.set(path, node);
  }

  remove(path: string): void {
    const old = this.read(path);
    if (old) this.delta(old.perms[0]!.id, -1);
    this.overlay.set(path, null);
  }

  owned(domid: number): number {
    return this.store.ownedBy(domid) + (this.ownedDelta.get(domid) ?? 0);
  }

  newGen(): number {
    // Provisional; the commit stamps a fresh generation.
    return this.store.gen;
  }

  changed(path: string, exact: boolean, oldPerms: Perms | undefined): void {
    const prev = this.changes.get(path);
    // cxenstored keeps one entry per node: a plain change wins over an exact one,
    // and the first saved permissions are the ones from before the transaction.
    if (prev) prev.exact = prev.exact && exact;
    else this.changes.set(path, { exact, oldPerms });
  }

  get touched(): number {
    return this.accessed.size;
  }

  /** True if nothing this transaction touched changed since. */
  valid(): boolean {
    for (const [p, seen] of this.accessed) {
      const n = this.store.nodes.get(p);
      if ((n ?? null) !== seen) return false;
    }
    return true;
  }

  /** Applies the overlay to the store; returns the changes to fire, in access order. */
  apply(): Array<[string, Change]> {
    const gen = this.store.nextGen();
    for (const [p, n] of this.overlay) {
      if (n === null) this.store.delete(p);
      else this.store.set(p, { value: n.value, perms: n.perms, children: n.children, childLen: n.childLen, gen });
    }
    const out: Array<[string, Change]> = [];
    for (const p of this.accessed.keys()) {
      const c = this.changes.get(p);
      if (c) out.push([p, c]);
    }
    return out;
  }

  private delta(domid: number, d: number): void {
    this.ownedDelta.set(domid, (this.ownedDelta.get(domid) ?? 0) + d);
  }
}
