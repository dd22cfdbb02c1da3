// In-process transport for dom0's kernel and toolstack: frames in through
// send(), replies and watch events out through onMessage, synchronously (from
// inside send, or from inside whichever call made a watch fire). Privileged,
// like any dom0 connection.

import {
  XS_ERROR, XsFrameReader, decodeMessage, encodeMessage, latin1Bytes, splitStrings, text, type XsMessage,
} from '../../abi/xs_wire.ts';
import { Connection } from './connection.ts';
import type { Xenstored } from './xenstored.ts';

export class LocalConnection extends Connection {
  onMessage: ((frame: Uint8Array) => void) | undefined = undefined;
  private readonly reader = new XsFrameReader();
  private out: Uint8Array[] = [];

  constructor(private readonly daemon: Xenstored, seq: number) {
    super(seq, 0, true);
  }

  /** One or more whole frames (a partial frame waits for the rest). A header with len > 4096 drops the connection. */
  send(frame: Uint8Array): void {
    if (this.closed) return;
    // Copy: the caller may reuse its buffer once send returns.
    const copy = frame.slice();
    this.daemon.run(() => {
      if (this.closed) return;
      this.reader.push(copy);
      for (let m = this.reader.next(); m; m = this.reader.next()) {
        this.daemon.process(this, m);
        if (this.closed) return;
      }
      if (this.reader.broken) this.daemon.closeConnection(this);
    });
  }

  close(): void {
    this.daemon.run(() => this.daemon.closeConnection(this));
  }

  override write(type: number, reqId: number, txId: number, payload: Uint8Array): void {
    this.out.push(encodeMessage(type, reqId, txId, payload));
  }

  override flush(): void {
    const frames = this.out;
    this.out = [];
    const cb = this.onMessage;
    if (!cb) return;
    for (const f of frames) cb(f);
  }

  override shutdown(): void {
    this.out = [];
  }
}

// ------------------------------------------------------------ small helpers

/** A request frame from string arguments, each NUL-terminated (WRITE: pass the value as `raw`). */
export function encodeRequest(type: number, args: readonly string[], opts: { txId?: number; reqId?: number; raw?: Uint8Array | string } = {}): Uint8Array {
  const head = args.map((a) => latin1Bytes(a + '\0'));
  const raw = opts.raw === undefined ? new Uint8Array(0) : typeof opts.raw === 'string' ? new TextEncoder().encode(opts.raw) : opts.raw;
  let len = raw.length;
  for (const h of head) len += h.length;
  const p = new Uint8Array(len);
  let o = 0;
  for (const h of head) {
    p.set(h, o);
    o += h.length;
  }
  p.set(raw, o);
  return encodeMessage(type, opts.reqId ?? 0, opts.txId ?? 0, p);
}

export interface DecodedReply extends XsMessage {
  /** The error name if type is XS_ERROR. */
  error: string | undefined;
  /** Payload split on NULs (undefined if it is not a NUL-terminated list, e.g. a READ value). */
  strings: string[] | undefined;
  /** Payload as UTF-8 text. */
  text: string;
}

export function decodeReply(frame: Uint8Array): DecodedReply {
  const m = decodeMessage(frame);
  const strings = splitStrings(m.payload);
  return { ...m, error: m.type === XS_ERROR ? strings?.[0] : undefined, strings, text: text(m.payload) };
}
