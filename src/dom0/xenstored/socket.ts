// Unix-socket transport (libxenstore, xenstore-* tools, pyxs via
// XENSTORED_PATH). Socket connections are dom0 and privileged. Every frame in
// a received chunk is processed, then all replies go out in one write.
// A header with len > 4096 closes the connection (cxenstored).

import net from 'node:net';
import fs from 'node:fs';
import { XS_HEADER_SIZE, XsFrameReader, writeHeader } from '../../abi/xs_wire.ts';
import { Connection } from './connection.ts';
import type { Xenstored } from './xenstored.ts';

/** Bytes of unsent replies after which a socket's input is paused. */
const BACKLOG_LIMIT = 1 << 20;

class SocketConnection extends Connection {
  readonly reader = new XsFrameReader();
  /** Output buffer, reused across flushes while the kernel takes each write whole. */
  private buf = Buffer.allocUnsafeSlow(8192);
  private len = 0;

  constructor(seq: number, private readonly sock: net.Socket) {
    super(seq, 0, true);
  }

  override write(type: number, reqId: number, txId: number, payload: Uint8Array): void {
    const need = this.len + XS_HEADER_SIZE + payload.length;
    if (need > this.buf.length) {
      const nb = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    writeHeader(this.buf, this.len, type, reqId, txId, payload.length);
    this.buf.set(payload, this.len + XS_HEADER_SIZE);
    this.len = need;
  }

  override flush(): void {
    if (this.len === 0) return;
    // One write per batch of replies, straight from our buffer: no copy, no
    // allocation per request. A unix-socket write is attempted synchronously;
    // if the kernel took it whole, nothing references the buffer any more and
    // it is reused. Otherwise Node keeps the view until the write completes,
    // so the next replies go to a fresh buffer.
    const out = this.buf.subarray(0, this.len);
    this.len = 0;
    if (this.sock.destroyed) return;
    const all = this.sock.write(out);
    if (this.sock.writableLength !== 0) this.buf = Buffer.allocUnsafeSlow(this.buf.length);
    // A client that sends but never reads must not make us buffer without
    // bound (XSA-326): stop reading its requests until its replies drain.
    if (!all && this.sock.writableLength > BACKLOG_LIMIT && !this.sock.isPaused()) {
      this.sock.pause();
      this.sock.once('drain', () => this.sock.resume());
    }
  }

  override shutdown(): void {
    this.len = 0;
    this.sock.destroy();
  }
}

export interface SocketServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Listens on `path` (replacing a stale socket file) and serves the daemon there. */
export async function listenUnix(daemon: Xenstored, path: string): Promise<SocketServer> {
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch {
    // not there: fine
  }
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    const c = new SocketConnection(daemon.nextConnSeq(), sock);
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
