// Tree views and transactions (cxenstored's rule, xenstored_transaction.c
// since Xen 4.9): a transaction works on an overlay of the committed tree and
// remembers the generation of every node it touched (read, written, or read
// implicitly as a parent). Commit fails with EAGAIN if any of them changed.
//
// A request that fails inside a transaction changes nothing in it: its writes,
// deletions, pending watch events and node accounting are undone (journal,
// begin/finish/rollback around each request). What it read stays recorded, as
// in cxenstored: the client may have acted on an ENOENT, so a later change of
// that node must still make the commit fail.

import { ErrorReply } from './errors.ts';
import type { Perms } from './perms.ts';
import { nodeMemory } from './quota.ts';
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
  /**
   * Bytes charged to `domid` for the memory quota: its committed nodes, plus
   * in a transaction every record the transaction wrote (cxenstored keeps
   * them as separate transaction records until the end).
   */
  memory(domid: number): number;
  /** Generation to stamp on a node written now. */
  newGen(): number;
  /** Records that `path` changed, for watches. */
  changed(path: string, exact: boolean, oldPerms: Perms | undefined): void;
}

export type FireFn = (path: string, change: Change) => void;

/** Where a transaction charges the records it writes (quota.ts: TxMemory). */
export interface TxAccounting {
  add(domid: number, delta: number): void;
  of(domid: number): number;
}

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
  memory(domid: number): number {
    return this.store.memoryOf(domid);
  }
  newGen(): number {
    return this.store.nextGen();
  }
  changed(path: string, exact: boolean, oldPerms: Perms | undefined): void {
    this.fire(path, { exact, oldPerms });
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
  /** Bytes of the records this transaction wrote, per owner (memory quota). */
  private readonly written = new Map<number, number>();
  /** A request failed in a way that dooms the transaction (ErrorReply.failsTransaction): commit answers ENOMEM. */
  failed = false;
  /** Undo steps of the request being processed (newest last); undefined between requests. */
  private journal: Array<() => void> | undefined;

  /**
   * @param nodeLimit transaction-nodes quota: how many distinct nodes this
   * transaction may touch (Infinity for a privileged connection).
   */
  constructor(
    readonly id: number,
    private readonly store: Store,
    private readonly nodeLimit: () => number = () => Infinity,
    private readonly acct?: TxAccounting,
  ) {}

  /** The transaction ends (commit, abort, connection gone): its records stop counting against the memory quota. */
  release(): void {
    for (const [owner, bytes] of this.written) this.acct?.add(owner, -bytes);
    this.written.clear();
  }

  /** A request starts: record how to undo what it changes. */
  begin(): void {
    this.journal = [];
  }

  /** The request succeeded: keep its changes. */
  finish(): void {
    this.journal = undefined;
  }

  /** The request failed: undo its writes, deletions, pending events and accounting. */
  rollback(): void {
    const j = this.journal;
    this.journal = undefined;
    if (j) for (let i = j.length - 1; i >= 0; i--) j[i]!();
  }

  /**
   * cxenstored's access_node: a node not touched before counts against the
   * transaction-nodes quota, checked before it is recorded (ENOSPC, reads too).
   */
  read(path: string): XsNode | undefined {
    const o = this.overlay.get(path);
    if (o !== undefined) return o ?? undefined;
    const seen = this.accessed.get(path);
    if (seen !== undefined) return seen ?? undefined;
    if (this.accessed.size >= this.nodeLimit()) throw new ErrorReply('ENOSPC', true);
    const n = this.store.nodes.get(path);
    this.accessed.set(path, n ?? null);
    return n;
  }

  write(path: string, node: XsNode): void {
    const old = this.read(path);
    // Only creations, deletions and changes of owner count (cxenstored's
    // changed_domains: domain_nbentry_inc/dec); a rewrite touches no domain.
    if (!old || old.perms[0]!.id !== node.perms[0]!.id) {
      if (old) this.delta(old.perms[0]!.id, -1);
      this.delta(node.perms[0]!.id, 1);
    }
    const owner = node.perms[0]!.id;
    const was = this.written.get(owner) ?? 0;
    const bytes = nodeMemory(path, node.perms, node.value.length, node.childLen);
    if (this.journal) {
      this.journal.push(() => {
        this.written.set(owner, was);
        this.acct?.add(owner, -bytes);
      });
    }
    this.written.set(owner, was + bytes);
    this.acct?.add(owner, bytes);
    this.setOverlay(path, node);
  }

  remove(path: string): void {
    const old = this.read(path);
    if (old) this.delta(old.perms[0]!.id, -1);
    this.setOverlay(path, null);
  }

  private setOverlay(path: string, node: XsNode | null): void {
    const j = this.journal;
    if (j) {
      const ov = this.overlay;
      const prev = ov.get(path);
      j.push(prev === undefined ? () => void ov.delete(path) : () => void ov.set(path, prev));
    }
    this.overlay.set(path, node);
  }

  owned(domid: number): number {
    return this.store.ownedBy(domid) + (this.ownedDelta.get(domid) ?? 0);
  }

  memory(domid: number): number {
    return this.store.memoryOf(domid) + (this.acct ? this.acct.of(domid) : this.written.get(domid) ?? 0);
  }

  newGen(): number {
    // Provisional; the commit stamps a fresh generation.
    return this.store.gen;
  }

  changed(path: string, exact: boolean, oldPerms: Perms | undefined): void {
    const prev = this.changes.get(path);
    // cxenstored keeps one entry per node: a plain change wins over an exact one,
    // and the first saved permissions are the ones from before the transaction.
    const j = this.journal;
    if (prev) {
      const was = prev.exact;
      if (j) j.push(() => void (prev.exact = was));
      prev.exact = was && exact;
    } else {
      if (j) j.push(() => void this.changes.delete(path));
      this.changes.set(path, { exact, oldPerms });
    }
  }

  /** What committing would change, for tests and diagnostics: overlay, pending events, accounting deltas. */
  pending(): { overlay: Array<[string, XsNode | null]>; changes: Array<[string, boolean]>; owned: Array<[number, number]> } {
    return {
      overlay: [...this.overlay],
      changes: [...this.changes].map(([p, c]) => [p, c.exact]),
      owned: [...this.ownedDelta].filter(([, n]) => n !== 0),
    };
  }

  /** The domains whose node count this transaction changes, with the change (cxenstored's changed_domains). */
  ownerDeltas(): ReadonlyMap<number, number> {
    return this.ownedDelta;
  }

  /** Distinct nodes touched so far (transaction-nodes quota). */
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

  /**
   * Applies the overlay to the store; returns the changes to fire, in access
   * order, leaving out nodes that neither existed before nor exist after.
   */
  apply(): Array<[string, Change]> {
    const gen = this.store.nextGen();
    for (const [p, n] of this.overlay) {
      if (n === null) this.store.delete(p);
      else this.store.set(p, { value: n.value, perms: n.perms, children: n.children, childLen: n.childLen, gen });
    }
    const out: Array<[string, Change]> = [];
    for (const [p, before] of this.accessed) {
      const c = this.changes.get(p);
      if (!c) continue;
      // cxenstored (observed): a node absent before the transaction and absent
      // after it (created then deleted, implicit parents included) fires nothing;
      // nor does its parent, whose child list ends up unchanged.
      if (before === null && this.overlay.get(p) === null) continue;
      out.push([p, c]);
    }
    return out;
  }

  private delta(domid: number, d: number): void {
    const was = this.ownedDelta.get(domid);
    if (this.journal) this.journal.push(was === undefined ? () => void this.ownedDelta.delete(domid) : () => void this.ownedDelta.set(domid, was));
    this.ownedDelta.set(domid, (was ?? 0) + d);
  }
}
