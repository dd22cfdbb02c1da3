// The guest console (Solo5 bindings/xen/console.c). With a PV console ring
// (HVM_PARAM_CONSOLE_PFN/EVTCHN set by the domain builder) output goes into
// the ring's `out` half and the console port is notified; dom0's xenconsoled
// reads it (that is what `xl console` shows). Without one (a bare hypervisor
// in tests) it goes through CONSOLEIO_write, Xen's own console.
//
// Lines are buffered until '\n' so that one guest line is one write. Solo5
// spins while the ring is full, waiting for xenconsoled on another CPU; a
// unikernel here must not spin, so bytes that do not fit wait (bounded) for
// the next write or the main loop's pump() before it blocks. At exit, what
// still does not fit goes out through CONSOLEIO_write so a crash message is
// never lost.
//
// The console port stays masked (mask_all at boot, nobody unmasks it): the
// guest never waits for console events, and xenconsoled's notifications after
// each read only set its pending bit ([1/1/x] in the 'e' dump).

import { consoleOutWrite } from '../abi/console.ts';
import type { Hyper } from './hypercall.ts';
import { utf8Decode, utf8Encode } from './utf8.ts';

/** Bytes kept while the ring is full; beyond this the oldest are dropped (and counted). */
const PENDING_MAX = 64 * 1024;

export class Console {
  private buf = '';
  private page: ArrayBuffer | undefined;
  /** The console event channel (0: no ring, CONSOLEIO_write). */
  port = 0;
  /** Bytes waiting for room in the ring. */
  private pending: Uint8Array = new Uint8Array(0);
  /** Bytes dropped because the ring stayed full past PENDING_MAX. */
  dropped = 0;

  constructor(private readonly hyper: Hyper) {}

  /** console_init: use the PV ring at `page` with event channel `port`. */
  attachRing(page: ArrayBuffer, port: number): void {
    this.page = page;
    this.port = port;
  }

  write(s: string): void {
    this.buf += s;
    const nl = this.buf.lastIndexOf('\n');
    if (nl < 0) {
      if (this.buf.length >= 4096) this.flush();
      return;
    }
    this.emit(this.buf.slice(0, nl + 1));
    this.buf = this.buf.slice(nl + 1);
  }

  /** Push the partial line too (before exit or when it grows large). */
  flush(final = false): void {
    if (this.buf.length > 0) {
      this.emit(this.buf);
      this.buf = '';
    }
    if (final && this.pending.length > 0) {
      this.hyper.consoleWrite(utf8Decode(this.pending));
      this.pending = new Uint8Array(0);
    }
  }

  /** Move waiting bytes into the ring if it has room again (the main loop calls this before blocking). */
  pump(): void {
    if (this.pending.length > 0) this.push(new Uint8Array(0));
  }

  log(...args: unknown[]): void {
    this.write(args.map(fmt).join(' ') + '\n');
  }

  private emit(text: string): void {
    if (!this.page) {
      this.hyper.consoleWrite(text);
      return;
    }
    this.push(utf8Encode(text));
  }

  private push(bytes: Uint8Array): void {
    let all = bytes;
    if (this.pending.length > 0) {
      all = new Uint8Array(this.pending.length + bytes.length);
      all.set(this.pending);
      all.set(bytes, this.pending.length);
    }
    const n = consoleOutWrite(this.page!, all);
    let rest = all.subarray(n);
    if (rest.length > PENDING_MAX) {
      this.dropped += rest.length - PENDING_MAX;
      rest = rest.subarray(rest.length - PENDING_MAX);
    }
    this.pending = rest.slice();
    if (n > 0) this.hyper.portOp('send', this.port);
  }
}

export function fmt(x: unknown): string {
  if (typeof x === 'string') return x;
  if (x instanceof Error) return x.stack ?? `${x.name}: ${x.message}`;
  if (typeof x === 'object' && x !== null) {
    try {
      return JSON.stringify(x);
    } catch {
      return String(x);
    }
  }
  return String(x);
}
