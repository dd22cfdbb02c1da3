// The xenstore daemon: one store, many connections. Everything is
// synchronous and deterministic (no timers, no randomness): a transport hands
// in bytes, the daemon processes whole requests in order, queues replies and
// watch events on the connections concerned, then flushes every connection
// that got output. The emulator can therefore replay it from a seed.

import {
  XENSTORE_PAYLOAD_MAX, XS_ERROR, XS_TYPE_COUNT, XS_WATCH_EVENT, type XsMessage, type XsdError,
} from '../../abi/xs_wire.ts';
import type { Connection } from './connection.ts';
import { DomainTable, type XsdDomain } from './domain.ts';
import { LocalConnection } from './local.ts';
import { ErrorReply } from './errors.ts';
import { NO_REPLY, type OpContext } from './op_context.ts';
import { WIRE_FUNCS, XS_FLAG_NOTID, XS_FLAG_PRIV } from './ops.ts';
import { removeOwnedNodes } from './ops_domain.ts';
import { homePath, parentOf } from './path.ts';
import { DEFAULT_PERMS, XS_PERM_READ, permForConn, type Perms } from './perms.ts';
import { DEFAULT_QUOTAS, TxMemory, type Quotas } from './quota.ts';
import { RingConnection, type RingMapping } from './ring.ts';
import { emptyNode, withChild } from './tree/store.ts';
import { Store } from './tree/store.ts';
import { BaseView, Transaction, type Change, type TreeView } from './transaction.ts';
import { WatchIndex, type Watch } from './watches.ts';

export interface XenstoredOptions {
  /**
   * Maps a guest's xenstore ring on INTRODUCE (the emulator's grant/foreign
   * map). Returns the page and a notify function (the event channel to the
   * guest), or a negative errno. Without it, INTRODUCE just records the domain.
   */
  mapRing?: (domid: number, gfn: number, port: number) => RingMapping | number;
  quotas?: Partial<Quotas>;
  /** Diagnostics (CONTROL print, dropped connections). Default: nothing. */
  log?: (msg: string) => void;
}

const ERRNO_NAMES: Record<number, XsdError> = { 1: 'EPERM', 2: 'ENOENT', 12: 'ENOMEM', 13: 'EACCES', 16: 'EBUSY', 22: 'EINVAL', 28: 'ENOSPC' };

export class Xenstored {
  readonly store = new Store();
  readonly domains = new DomainTable();
  readonly watches = new WatchIndex();
  readonly quotas: Quotas;
  /** Perms of `@introduceDomain` / `@releaseDomain` (default n0: privileged only). */
  readonly specialPerms = new Map<string, Perms>([
    ['@introduceDomain', DEFAULT_PERMS],
    ['@releaseDomain', DEFAULT_PERMS],
  ]);
  readonly connections = new Set<Connection>();
  private readonly base: BaseView;
  private readonly mapRing: XenstoredOptions['mapRing'];
  private readonly logFn: (msg: string) => void;
  private connSeq = 0;
  private readonly dirty: Connection[] = [];
  private readonly inbox: Array<() => void> = [];
  private running = false;
  /** Work to run once the current request's reply is queued (cxenstored's @releaseDomain order). */
  private readonly afterReply: Array<() => void> = [];

  constructor(opts: XenstoredOptions = {}) {
    this.quotas = { ...DEFAULT_QUOTAS, ...opts.quotas };
    this.mapRing = opts.mapRing;
    this.logFn = opts.log ?? (() => {});
    this.base = new BaseView(this.store, (p, c) => this.fire(p, c));
    // cxenstored's initial tree: /, /tool, /tool/xenstored, all n0.
    const g = this.store.nextGen();
    this.store.set('/', withChild(emptyNode(DEFAULT_PERMS, g), 'tool', g));
    this.store.set('/tool', withChild(emptyNode(DEFAULT_PERMS, g), 'xenstored', g));
    this.store.set('/tool/xenstored', emptyNode(DEFAULT_PERMS, g));
    const dom0 = this.domains.getOrAlloc(0, 0)!;
    dom0.introduced = true;
  }

  log(msg: string): void {
    this.logFn(msg);
  }

  // ------------------------------------------------------------ connections

  nextConnSeq(): number {
    return ++this.connSeq;
  }

  /**
   * An in-process connection: dom0's (privileged) by default, or one acting
   * as domain `domid` (unprivileged), as a stub domain's device model talks
   * to xenstored over its own ring.
   */
  connectLocal(domid = 0): LocalConnection {
    const c = new LocalConnection(this, this.nextConnSeq(), domid);
    this.connections.add(c);
    return c;
  }

  /** Registers a transport's connection (socket.ts). */
  addConnection(c: Connection): void {
    this.connections.add(c);
  }

  /** Drops a connection: its watches and transactions go, the transport is shut. */
  closeConnection(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    this.watches.removeAll(c);
    this.dropTransactions(c);
    this.connections.delete(c);
    const dom = this.domains.get(c.domid);
    if (dom && dom.conn === c) dom.conn = undefined;
    c.shutdown();
  }

  /**
   * Runs `fn` (a transport's input handling) and then flushes all output. Re-
   * entrant calls (a local client sending from inside onMessage) are queued
   * and run after the current one, so requests never interleave.
   */
  run(fn: () => void): void {
    this.inbox.push(fn);
    if (this.running) return;
    this.running = true;
    try {
      for (let f = this.inbox.shift(); f; f = this.inbox.shift()) {
        try {
          f();
        } catch (e) {
          // A bug must not take the daemon down; report it and carry on.
          this.log(`xenstored: internal error: ${(e as Error)?.stack ?? String(e)}`);
        }
        this.flushAll();
        if (this.inbox.length === 0 && this.stalledRings.size) this.unstall();
      }
    } finally {
      this.running = false;
    }
  }

  /** Rings left unread at the hard memory quota (RingConnection.service). */
  readonly stalledRings = new Set<RingConnection>();

  /** A stalled ring whose domain's usage dropped below the quota is read again. */
  private unstall(): void {
    for (const r of this.stalledRings) if (r.closed || r.resumable()) this.stalledRings.delete(r);
  }

  /**
   * Pushes every dirty connection's output. A transport that throws (a
   * failed allocation, a dead socket) loses its connection, logged; it never
   * takes the daemon or the other connections down.
   */
  private flushAll(): void {
    const d = this.dirty;
    for (let i = 0; i < d.length; i++) {
      const c = d[i]!;
      c.dirty = false;
      if (c.closed) continue;
      try {
        c.flush();
      } catch (e) {
        this.log(`xenstored: domain ${c.domid}: connection ${c.seq} dropped, output failed: ${(e as Error)?.message ?? String(e)}`);
        try {
          this.closeConnection(c);
        } catch {
          // the transport is already unusable
        }
      }
    }
    d.length = 0;
  }

  /** Queues `c` for the flush at the end of the current run() (a transport whose peer became writable). */
  markDirty(c: Connection): void {
    if (!c.dirty) {
      c.dirty = true;
      this.dirty.push(c);
    }
  }

  /** Queues a message on a connection. */
  send(c: Connection, type: number, reqId: number, txId: number, payload: Uint8Array): void {
    if (c.closed) return;
    c.write(type, reqId, txId, payload);
    this.markDirty(c);
  }

  // ------------------------------------------------------------ requests

  /** process_message: one whole request from `c`. */
  process(c: Connection, m: XsMessage): void {
    const type = m.type;
    const entry = type < XS_TYPE_COUNT ? WIRE_FUNCS[type] : undefined;
    if (!entry) return this.sendError(c, m, 'ENOSYS');
    if (entry.flags & XS_FLAG_PRIV && !c.privileged) return this.sendError(c, m, 'EACCES');
    let view: TreeView = this.base;
    let tx: Transaction | undefined;
    if (!(entry.flags & XS_FLAG_NOTID) && m.txId !== 0) {
      tx = c.transactions.get(m.txId);
      if (!tx) return this.sendError(c, m, 'ENOENT');
      view = tx;
    }
    const x: OpContext = { d: this, c, m, view, inTx: tx !== undefined };
    let reply;
    // Outside a transaction every handler checks before it changes anything;
    // inside one, a failed request's changes to the transaction are undone.
    tx?.begin();
    try {
      reply = entry.fn(x);
      tx?.finish();
    } catch (e) {
      tx?.rollback();
      this.afterReply.length = 0;
      if (e instanceof ErrorReply) {
        if (tx && e.failsTransaction) tx.failed = true;
        return this.sendError(c, m, e.name);
      }
      // A bug must not leave the client waiting forever: report it and answer EINVAL
      // (the name cxenstored uses for errnos outside xsd_errors).
      this.log(`xenstored: internal error: ${(e as Error)?.stack ?? String(e)}`);
      return this.sendError(c, m, 'EINVAL');
    }
    if (reply !== NO_REPLY) {
      if (reply.length > XENSTORE_PAYLOAD_MAX) this.sendError(c, m, 'E2BIG');
      else this.send(c, type, m.reqId, m.txId, reply);
    }
    while (this.afterReply.length) this.afterReply.shift()!();
  }

  /** Defers `fn` until the reply of the request being processed is queued. */
  deferAfterReply(fn: () => void): void {
    this.afterReply.push(fn);
  }

  private sendError(c: Connection, m: XsMessage, name: XsdError): void {
    const p = new Uint8Array(name.length + 1);
    for (let i = 0; i < name.length; i++) p[i] = name.charCodeAt(i);
    this.send(c, XS_ERROR, m.reqId, m.txId, p);
  }

  /** A transaction of `c`; an unprivileged one may touch at most `transaction-nodes` nodes. */
  newTransaction(id: number, c: Connection): Transaction {
    return new Transaction(id, this.store, () => (c.privileged ? Infinity : this.quotas.transactionNodes), this.txAcct);
  }

  /** Bytes of open transactions' records per owner (memory quota). */
  private readonly txAcct = new TxMemory();

  /** Every transaction of `c` ends without commit (connection closed, RESET_WATCHES, ring error). */
  dropTransactions(c: Connection): void {
    for (const t of c.transactions.values()) t.release();
    c.transactions.clear();
  }

  // ------------------------------------------------------------ watches

  /**
   * fire_watches: `path` changed. Only watches on the path and its ancestors
   * are looked at (exact: only on the path itself); the permission check runs
   * only for connections that have a matching watch, once per connection.
   */
  fire(path: string, change: Change): void {
    const ws = change.exact ? this.watches.exact(path) : this.watches.matching(path);
    if (!ws) return;
    let last: Connection | undefined;
    let ok = false;
    for (const w of ws) {
      if (w.conn !== last) {
        last = w.conn;
        ok = this.watchPermitted(w.conn, path, change.oldPerms);
      }
      if (ok) this.sendEvent(w, path);
    }
  }

  /**
   * XSA-115: the watcher must be able to read the node (now or, for a deleted
   * node or changed perms, before) or its parent.
   */
  private watchPermitted(c: Connection, path: string, oldPerms: Perms | undefined): boolean {
    if (c.privileged) return true;
    const gens = this.domains.generationOf;
    const n = this.store.get(path);
    if (n && permForConn(c, n.perms, n.gen, gens) & XS_PERM_READ) return true;
    if (oldPerms && permForConn(c, oldPerms, n ? n.gen : this.store.gen, gens) & XS_PERM_READ) return true;
    if (path === '/') return false;
    const p = this.store.get(parentOf(path));
    return p !== undefined && (permForConn(c, p.perms, p.gen, gens) & XS_PERM_READ) !== 0;
  }

  /** Sends one event; dropped if its payload would exceed 4096 bytes (XSA-324). */
  sendEvent(w: Watch, path: string): void {
    let ev = path;
    if (w.relative) {
      const home = homePath(w.conn.domid);
      ev = path.slice(home.length);
      if (ev.charCodeAt(0) === 47) ev = ev.slice(1);
    }
    const len = ev.length + w.token.length + 2;
    if (len > XENSTORE_PAYLOAD_MAX) return;
    const p = new Uint8Array(len);
    for (let i = 0; i < ev.length; i++) p[i] = ev.charCodeAt(i);
    const t = w.token;
    for (let i = 0, o = ev.length + 1; i < t.length; i++) p[o + i] = t.charCodeAt(i);
    this.send(w.conn, XS_WATCH_EVENT, 0, 0, p);
  }

  /** fire_special_watches: `@introduceDomain` / `@releaseDomain`, to privileged or granted readers only. */
  fireSpecial(name: string): void {
    const ws = this.watches.exact(name);
    if (!ws) return;
    const perms = this.specialPerms.get(name) ?? DEFAULT_PERMS;
    for (const w of ws.slice().sort((a, b) => a.conn.seq - b.conn.seq || a.seq - b.seq)) {
      if (w.conn.privileged || permForConn(w.conn, perms, Infinity, this.domains.generationOf) & XS_PERM_READ) this.sendEvent(w, name);
    }
  }

  // ------------------------------------------------------------ domains

  /** XS_INTRODUCE: returns an error name or undefined. */
  introduce(domid: number, gfn: number, port: number): XsdError | undefined {
    const known = this.domains.get(domid) !== undefined;
    const dom = this.domains.getOrAlloc(domid, this.store.gen);
    if (!dom) return 'ENOENT';
    if (dom.introduced) {
      // Re-introduce rebinds the event channel (cxenstored); nothing else changes.
      dom.port = port;
      if (dom.conn instanceof RingConnection) dom.conn.rebind(port);
      return undefined;
    }
    if (this.mapRing) {
      const r = this.mapRing(domid, gfn, port);
      if (typeof r === 'number') {
        // A failed INTRODUCE leaves no domain behind (it would make perm entries naming it live).
        if (!known) this.domains.delete(domid);
        return ERRNO_NAMES[-r] ?? 'EINVAL';
      }
      const conn = new RingConnection(this, this.nextConnSeq(), domid, r);
      this.connections.add(conn);
      dom.conn = conn;
      conn.connected();
    }
    dom.introduced = true;
    dom.port = port;
    dom.gfn = gfn;
    if (domid !== 0) this.fireSpecial('@introduceDomain');
    return undefined;
  }

  /**
   * XS_RELEASE and domain death: drop the connection, delete every node the
   * domain owns (XSA-322/419; a reused domid inherits nothing), forget the
   * domain so stale perm entries naming it are ignored, fire @releaseDomain.
   */
  releaseDomain(domid: number, eventAfterReply = false): boolean {
    const dom = this.domains.get(domid);
    if (!dom || domid === 0) return false;
    if (dom.conn) this.closeConnection(dom.conn);
    removeOwnedNodes(this.store, this.base, domid);
    this.domains.delete(domid);
    for (const d of this.domains.all()) {
      if (d.target === domid) {
        d.target = undefined;
        if (d.conn) d.conn.target = undefined;
      }
    }
    // cxenstored fires @releaseDomain from its domain cleanup, after RELEASE's reply.
    if (eventAfterReply) this.deferAfterReply(() => this.fireSpecial('@releaseDomain'));
    else this.fireSpecial('@releaseDomain');
    return true;
  }

  /** The emulator: the guest notified its xenstore event channel. */
  kick(domid: number): void {
    const conn = this.domains.get(domid)?.conn;
    if (conn instanceof RingConnection) this.run(() => conn.service());
  }

  /** The emulator: VIRQ_DOM_EXC for a dead domain. */
  domainDied(domid: number): void {
    this.run(() => {
      this.releaseDomain(domid);
    });
  }

  /** Per-domain usage as `CONTROL quota <domid>` shows it (nodes and memory are kept by the store). */
  usage(domid: number): { nodes: number; watches: number; transactions: number; outstanding: number; memory: number } {
    let watches = 0;
    let transactions = 0;
    for (const c of this.connections) {
      if (c.domid !== domid || domid === 0) continue;
      watches += c.watches.length;
      transactions += c.transactions.size;
    }
    return { nodes: this.store.ownedBy(domid), watches, transactions, outstanding: 0, memory: this.store.memoryOf(domid) };
  }

  get domainsList(): XsdDomain[] {
    return [...this.domains.all()];
  }
}
