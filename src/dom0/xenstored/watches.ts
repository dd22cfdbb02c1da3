// Watch registry, indexed by watched path so a change to P only looks at the
// watches registered on P and its ancestors (O(depth)), never at unrelated
// connections or domains (the cause of cxenstored 4.17's quadratic domain
// creation: tools/xenstore/xenstored_watch.c walks every connection's
// watches on each change).

import type { Connection } from './connection.ts';

export interface Watch {
  readonly conn: Connection;
  /** Absolute path or `@special`. */
  readonly path: string;
  readonly token: string;
  /** Registered with a relative path: events are reported relative to the home. */
  readonly relative: boolean;
  /** Global registration sequence, for cxenstored's delivery order. */
  readonly seq: number;
}

export class WatchIndex {
  private readonly byPath = new Map<string, Watch[]>();
  private seq = 0;
  size = 0;

  add(conn: Connection, path: string, token: string, relative: boolean): Watch {
    const w: Watch = { conn, path, token, relative, seq: ++this.seq };
    const l = this.byPath.get(path);
    if (l) l.push(w);
    else this.byPath.set(path, [w]);
    conn.watches.push(w);
    this.size++;
    return w;
  }

  find(conn: Connection, path: string, token: string): Watch | undefined {
    const l = this.byPath.get(path);
    if (!l) return undefined;
    for (const w of l) if (w.conn === conn && w.token === token) return w;
    return undefined;
  }

  remove(w: Watch): void {
    const l = this.byPath.get(w.path);
    if (l) {
      const i = l.indexOf(w);
      if (i >= 0) {
        l.splice(i, 1);
        this.size--;
      }
      if (l.length === 0) this.byPath.delete(w.path);
    }
    const cl = w.conn.watches;
    const j = cl.indexOf(w);
    if (j >= 0) cl.splice(j, 1);
  }

  removeAll(conn: Connection): void {
    for (const w of conn.watches.slice()) this.remove(w);
  }

  /** Watches registered exactly on `path`. */
  exact(path: string): readonly Watch[] | undefined {
    return this.byPath.get(path);
  }

  /**
   * Watches on `path` or any ancestor, in cxenstored's order: by connection
   * (oldest first), then by registration. Undefined if none.
   */
  matching(path: string): Watch[] | undefined {
    if (this.size === 0) return undefined;
    let out: Watch[] | undefined;
    let p = path;
    for (;;) {
      const l = this.byPath.get(p);
      if (l) {
        if (!out) out = l.slice();
        else for (const w of l) out.push(w);
      }
      if (p === '/') break;
      const i = p.lastIndexOf('/');
      p = i <= 0 ? '/' : p.slice(0, i);
    }
    if (out && out.length > 1) out.sort((a, b) => a.conn.seq - b.conn.seq || a.seq - b.seq);
    return out;
  }
}
