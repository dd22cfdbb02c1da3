// The node tree: a flat map from absolute path to an immutable node record.
// Flat because every request names a full path: one hash lookup instead of a
// walk, and a transaction's overlay is just another map keyed the same way.
// Nodes are never mutated in place, so a transaction can hold base nodes and
// the committed tree can be compared by identity/generation.

import type { Perms } from '../perms.ts';
import { nodeMemory } from '../quota.ts';

export interface XsNode {
  readonly value: Uint8Array;
  readonly perms: Perms;
  /** Child names in creation order (cxenstored's order). */
  readonly children: readonly string[];
  /** Bytes of the NUL-terminated child list (cxenstored's childlen). */
  readonly childLen: number;
  /** Store generation of the last change; used for conflicts, DIRECTORY_PART and XSA-322 checks. */
  readonly gen: number;
}

const EMPTY = new Uint8Array(0);

export function makeNode(value: Uint8Array, perms: Perms, children: readonly string[], childLen: number, gen: number): XsNode {
  return { value, perms, children, childLen, gen };
}

export function emptyNode(perms: Perms, gen: number): XsNode {
  return { value: EMPTY, perms, children: [], childLen: 0, gen };
}

export function withChild(n: XsNode, name: string, gen: number): XsNode {
  return { value: n.value, perms: n.perms, children: [...n.children, name], childLen: n.childLen + name.length + 1, gen };
}

export function withoutChild(n: XsNode, name: string, gen: number): XsNode {
  const i = n.children.indexOf(name);
  if (i < 0) return n;
  const children = n.children.slice();
  children.splice(i, 1);
  return { value: n.value, perms: n.perms, children, childLen: n.childLen - name.length - 1, gen };
}

/** Concatenated `name\0` list, as DIRECTORY sends it. */
export function childList(n: XsNode): Uint8Array {
  const out = new Uint8Array(n.childLen);
  let o = 0;
  for (const c of n.children) {
    for (let i = 0; i < c.length; i++) out[o++] = c.charCodeAt(i);
    out[o++] = 0;
  }
  return out;
}

/** Owner-indexed node counts are kept here so quota checks are O(1). */
export class Store {
  readonly nodes = new Map<string, XsNode>();
  /** Nodes per owning domid (perms[0].id). */
  readonly owned = new Map<number, number>();
  /** Bytes per owning domid (nodeMemory), for the memory quota. */
  readonly memory = new Map<number, number>();
  /** Global generation counter; bumped on every committed change. */
  gen = 0;

  get(path: string): XsNode | undefined {
    return this.nodes.get(path);
  }

  nextGen(): number {
    return ++this.gen;
  }

  set(path: string, node: XsNode): void {
    const old = this.nodes.get(path);
    if (old) this.count(path, old, -1);
    this.count(path, node, 1);
    this.nodes.set(path, node);
  }

  delete(path: string): void {
    const old = this.nodes.get(path);
    if (!old) return;
    this.count(path, old, -1);
    this.nodes.delete(path);
  }

  memoryOf(domid: number): number {
    return this.memory.get(domid) ?? 0;
  }

  ownedBy(domid: number): number {
    return this.owned.get(domid) ?? 0;
  }

  private count(path: string, node: XsNode, d: number): void {
    const domid = node.perms[0]!.id;
    const n = (this.owned.get(domid) ?? 0) + d;
    const m = (this.memory.get(domid) ?? 0) + d * nodeMemory(path, node.perms, node.value.length, node.childLen);
    if (n === 0) {
      this.owned.delete(domid);
      this.memory.delete(domid);
    } else {
      this.owned.set(domid, n);
      this.memory.set(domid, m);
    }
  }
}
