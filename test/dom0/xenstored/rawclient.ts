// A raw unix-socket xenstore client for interop/differential tests: sends a
// request, collects every message up to and including its reply.
import net from 'node:net';
import { XS_WATCH_EVENT, XsFrameReader, encodeMessage, latin1 } from '../../../src/abi/xs_wire.ts';
import type { Msg } from './helpers.ts';

export class RawClient {
  private readonly reader = new XsFrameReader();
  private queue: Msg[] = [];
  private waiter: (() => void) | undefined;
  closed = false;
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (b) => {
      this.reader.push(b);
      for (let m = this.reader.next(); m; m = this.reader.next()) {
        this.queue.push({ type: m.type, reqId: m.reqId, txId: m.txId, p: latin1(m.payload, 0, m.payload.length) });
      }
      this.waiter?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    sock.on('error', () => {});
  }
  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(path, () => {
        clearTimeout(t);
        resolve(new RawClient(s));
      });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect ${path}: timeout`));
      }, 5000);
      s.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }
  sendRaw(bytes: Uint8Array): void {
    this.sock.write(bytes);
  }
  /** Sends a request; resolves with the messages received up to the first non-event (the reply). */
  async req(type: number, payload: string, txId = 0, reqId = 0): Promise<Msg[]> {
    const b = new Uint8Array(payload.length);
    for (let i = 0; i < payload.length; i++) b[i] = payload.charCodeAt(i);
    this.sock.write(encodeMessage(type, reqId, txId, b));
    return this.untilReply();
  }
  async untilReply(timeoutMs = 3000): Promise<Msg[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex((m) => m.type !== XS_WATCH_EVENT);
      if (i >= 0) return this.queue.splice(0, i + 1);
      if (this.closed) return [...this.queue.splice(0), { type: -1, reqId: 0, txId: 0, p: 'CLOSED' }];
      if (Date.now() > deadline) return [...this.queue.splice(0), { type: -2, reqId: 0, txId: 0, p: 'TIMEOUT' }];
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 50);
      });
      this.waiter = undefined;
    }
  }
  /** Waits for `n` replies (pipelined requests). */
  async replies(n: number): Promise<Msg[]> {
    const out: Msg[] = [];
    while (out.filter((m) => m.type !== XS_WATCH_EVENT).length < n) {
      const got = await this.untilReply();
      out.push(...got);
      if (got.some((m) => m.type < 0)) break;
    }
    return out;
  }
  close(): void {
    this.sock.destroy();
  }
}
