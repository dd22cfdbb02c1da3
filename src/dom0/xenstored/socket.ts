// Unix-socket transport (libxenstore, xenstore-* tools, pyxs via
// XENSTORED_PATH). Socket connections are dom0 and privileged. Every frame in
// a received chunk is processed, then all replies go out in one write.
// A header with len > 4096 closes the connection (cxenstored).
//
// Output, and how it stays bounded (cxenstored 4.17 keeps a per-connection
// out_list and writes from it when poll says the socket is writable):
//   - `staged` is our out_list: messages not yet handed to the kernel. It is
//     handed over in one write when Node's stream has nothing pending; while
//     the stream is backed up (writableNeedDrain) it stays here until 'drain'.
//   - A watch event identical (path and token) to one still staged is dropped
//     (send_event, XSA-326; `@` events excepted), so an idle watcher of a busy
//     node holds one event, not one per write.
//   - Distinct events beyond MAX_STAGED_EVENT_BYTES are dropped with one log
//     line per episode. cxenstored has no bound for socket clients (their
//     out_list grows); we keep one so that one idle client cannot grow dom0.
//   - Replies are bounded by the input side: past BACKLOG_LIMIT of unsent
//     output the client's requests are not read until it drains (XSA-326).
//   - Buffers are sized to their content: `staged` grows by doubling from
//     8 KiB and shrinks back once empty, so a write the kernel only partly
//     took pins at most twice the bytes it carries.

import net from 'node:net';
import fs from 'node:fs';
import { XS_HEADER_SIZE, XS_WATCH_EVENT, XsFrameReader, writeHeader } from '../../abi/xs_wire.ts';
import { Connection, eventKey } from './connection.ts';
import type { Xenstored } from './xenstored.ts';

/** Bytes of unsent output after which a socket's input is paused. */
const BACKLOG_LIMIT = 1 << 20;
/** Bytes of staged watch events after which new events to this client are dropped. */
export const MAX_STAGED_EVENT_BYTES = 4 << 20;
const MIN_STAGE = 8192;

export class SocketConnection extends Connection {
  readonly reader = new XsFrameReader();
  /** Staged output (written by the daemon between flushes; handed to the kernel by flush). */
  private staged = Buffer.allocUnsafeSlow(MIN_STAGE);
  private len = 0;
  private eventBytes = 0;
  /** Keys (eventKey) of the watch events in `staged`. */
  private readonly stagedEvents = new Set<string>();
  private dropping = false;
  private waitingDrain = false;

  constructor(seq: number, private readonly sock: net.Socket, private readonly daemon: Xenstored) {
    super(seq, 0, true);
  }

  override write(type: number, reqId: number, txId: number, payload: Uint8Array): void {
    if (type === XS_WATCH_EVENT) {
      const key = eventKey(payload);
      if (key !== undefined) {
        if (this.stagedEvents.has(key)) return;
      }
      if (this.eventBytes + payload.length > MAX_STAGED_EVENT_BYTES) {
        if (!this.dropping) this.daemon.log(`xenstored: socket connection ${this.seq}: not reading, watch events dropped beyond ${MAX_STAGED_EVENT_BYTES} queued bytes`);
        this.dropping = true;
        return;
      }
      if (key !== undefined) this.stagedEvents.add(key);
      this.eventBytes += XS_HEADER_SIZE + payload.length;
    }
    const need = this.len + XS_HEADER_SIZE + payload.length;
    if (need > this.staged.length) {
      const nb = Buffer.allocUnsafeSlow(Math.max(need, this.staged.length * 2));
      nb.set(this.staged.subarray(0, this.len));
      this.staged = nb;
    }
    writeHeader(this.staged, this.len, type, reqId, txId, payload.length);
    this.staged.set(payload, this.len + XS_HEADER_SIZE);
    this.len = need;
  }

  override flush(): void {
    if (this.len === 0 || this.sock.destroyed) return;
    if (this.sock.writableNeedDrain) {
      this.awaitDrain();
      // A client that sends but never reads must not make us buffer without
      // bound (XSA-326): stop reading its requests until its output drains.
      if (this.len > BACKLOG_LIMIT && !this.sock.isPaused()) this.sock.pause();
      return;
    }
    // One write per batch, straight from `staged`: no copy in the common case
    // where the kernel takes it whole (then Node holds no reference and the
    // buffer is reused). If it does not, Node keeps the view until written,
    // so the next output goes to a fresh minimal buffer.
    const out = this.staged.subarray(0, this.len);
    this.len = 0;
    this.eventBytes = 0;
    this.stagedEvents.clear();
    this.dropping = false;
    const all = this.sock.write(out);
    if (this.sock.writableLength !== 0) this.staged = Buffer.allocUnsafeSlow(MIN_STAGE);
    else if (this.staged.length > 8 * MIN_STAGE) this.staged = Buffer.allocUnsafeSlow(MIN_STAGE);
    if (!all) {
      this.awaitDrain();
      if (this.sock.writableLength > BACKLOG_LIMIT && !this.sock.isPaused()) this.sock.pause();
    }
  }

  private awaitDrain(): void {
    if (this.waitingDrain) return;
    this.waitingDrain = true;
    this.sock.once('drain', () => {
      this.waitingDrain = false;
      if (this.sock.isPaused()) this.sock.resume();
      // Inside the daemon's error handling, like every other I/O path.
      this.daemon.run(() => {
        if (!this.closed) this.daemon.markDirty(this);
      });
    });
  }

  /** Bytes staged and not yet handed to the kernel, and the staging buffer's size (tests). */
  get stagedBytes(): number {
    return this.len;
  }
  get stagedCapacity(): number {
    return this.staged.length;
  }

  override shutdown(): void {
    this.len = 0;
    this.stagedEvents.clear();
    this.sock.destroy();
  }
}

export interface SocketServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Whether a daemon answers on the unix socket `path`: connect() succeeds on a
 * live socket and fails with ECONNREFUSED on one whose daemon is gone (the
 * file a killed daemon leaves behind).
 */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Listens on `path` and serves the daemon there. A path in use is refused:
 * a socket a daemon answers on is not taken over (unlinking it would leave
 * the first daemon running, unreachable), and a file that is not a socket is
 * not deleted. Only a stale socket, one nobody answers on, is replaced.
 */
export async function listenUnix(daemon: Xenstored, path: string): Promise<SocketServer> {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(path);
  } catch {
    // not there: fine
  }
  if (st && !st.isSocket()) throw new Error(`${path} exists and is not a socket; not replacing it`);
  if (st) {
    if (await socketAnswers(path)) throw new Error(`${path} is in use: a daemon answers on it (stop it, or choose another --socket)`);
    fs.unlinkSync(path);
  }
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    const c = new SocketConnection(daemon.nextConnSeq(), sock, daemon);
    daemon.run(() => daemon.addConnection(c));
    sock.on('data', (chunk: Buffer) => {
      daemon.run(() => {
        if (c.closed) return;
        c.reader.push(chunk);
        for (let m = c.reader.next(); m; m = c.reader.next()) {
          daemon.process(c, m);
          if (c.closed) return;
        }
        if (c.reader.broken) daemon.closeConnection(c);
      });
    });
    const gone = () => {
      sockets.delete(sock);
      daemon.run(() => daemon.closeConnection(c));
    };
    sock.on('close', gone);
    sock.on('error', () => sock.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    fs.chmodSync(path, 0o600);
  } catch {
    // best effort, as cxenstored
  }
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          try {
            fs.unlinkSync(path);
          } catch {
            // already gone
          }
          resolve();
        });
      }),
  };
}
