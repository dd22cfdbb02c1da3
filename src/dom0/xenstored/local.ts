// In-process transport for dom0's kernel and toolstack, and for device models
// acting as their stub domain: frames in through send(), replies and watch
// events out through onMessage, synchronously (from inside send, or from
// inside whichever call made a watch fire). Privileged when it is dom0's, like
// any dom0 connection; a device model's (domid != 0) is not.

import {
  XS_ERROR, XsFrameReader, decodeMessage, encodeMessage, encodeRequest, splitStrings, text, type XsMessage,
} from '../../abi/xs_wire.ts';
import { Connection } from './connection.ts';
import type { Xenstored } from './xenstored.ts';

export class LocalConnection extends Connection {
  onMessage: ((frame: Uint8Array) => void) | undefined = undefined;
  private readonly reader = new XsFrameReader();
  private out: Uint8Array[] = [];

  constructor(private readonly daemon: Xenstored, seq: number, domid = 0) {
    super(seq, domid, domid === 0);
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

// The request codec is abi/xs_wire.ts's, re-exported for the daemon's users.
export { encodeRequest };

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
