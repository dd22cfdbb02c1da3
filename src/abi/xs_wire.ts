// Xenstore wire protocol (xen/include/public/io/xs_wire.h, Xen 4.17).
//
// One strict codec shared by every transport (unix socket, in-process, guest
// ring) and by both sides (the daemon in src/dom0/xenstored and the guest's Xs
// client). A message is a 16-byte little-endian header
//   type u32 @0, req_id u32 @4, tx_id u32 @8, len u32 @12
// followed by `len` payload bytes. `len > XENSTORE_PAYLOAD_MAX` is a protocol
// violation: cxenstored drops the connection (socket) or marks the ring broken.
//
// Pure: no Node built-ins, so the guest bundle can import it.

export const XS_CONTROL = 0;
export const XS_DEBUG = 0; // old name of XS_CONTROL
export const XS_DIRECTORY = 1;
export const XS_READ = 2;
export const XS_GET_PERMS = 3;
export const XS_WATCH = 4;
export const XS_UNWATCH = 5;
export const XS_TRANSACTION_START = 6;
export const XS_TRANSACTION_END = 7;
export const XS_INTRODUCE = 8;
export const XS_RELEASE = 9;
export const XS_GET_DOMAIN_PATH = 10;
export const XS_WRITE = 11;
export const XS_MKDIR = 12;
export const XS_RM = 13;
export const XS_SET_PERMS = 14;
export const XS_WATCH_EVENT = 15;
export const XS_ERROR = 16;
export const XS_IS_DOMAIN_INTRODUCED = 17;
export const XS_RESUME = 18;
export const XS_SET_TARGET = 19;
export const XS_RESTRICT = 20; // removed from Xen; the daemon answers ENOSYS
export const XS_RESET_WATCHES = 21;
export const XS_DIRECTORY_PART = 22;
/** Number of message types in Xen 4.17 (later releases add 23..26). */
export const XS_TYPE_COUNT = 23;
export const XS_INVALID = 0xffff;

export const XS_TYPE_NAMES: readonly string[] = [
  'CONTROL', 'DIRECTORY', 'READ', 'GET_PERMS', 'WATCH', 'UNWATCH', 'TRANSACTION_START', 'TRANSACTION_END',
  'INTRODUCE', 'RELEASE', 'GET_DOMAIN_PATH', 'WRITE', 'MKDIR', 'RM', 'SET_PERMS', 'WATCH_EVENT', 'ERROR',
  'IS_DOMAIN_INTRODUCED', 'RESUME', 'SET_TARGET', 'RESTRICT', 'RESET_WATCHES', 'DIRECTORY_PART',
];

/**
 * `xsd_errors[]` in its order: the daemon sends the *name*; clients map it back
 * to an errno. Unknown names mean EINVAL to libxenstore.
 */
export const XSD_ERRORS = [
  'EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO', 'ENOTEMPTY', 'ENOSYS', 'EROFS',
  'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM',
] as const;
export type XsdError = (typeof XSD_ERRORS)[number];

/** Linux errno values of the names above, for clients that surface errnos. */
export const XSD_ERRNO: Readonly<Record<XsdError, number>> = {
  EINVAL: 22, EACCES: 13, EEXIST: 17, EISDIR: 21, ENOENT: 2, ENOMEM: 12, ENOSPC: 28, EIO: 5, ENOTEMPTY: 39,
  ENOSYS: 38, EROFS: 30, EBUSY: 16, EAGAIN: 11, EISCONN: 106, E2BIG: 7, EPERM: 1,
};

export const XS_HEADER_SIZE = 16;
export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;
export const XS_WATCH_PATH = 0;
export const XS_WATCH_TOKEN = 1;

// The ring page (struct xenstore_domain_interface) and its reader/writer: xs_ring.ts.
export {
  XENSTORE_RING_SIZE, XS_RING_REQ, XS_RING_RSP, XS_RING_REQ_CONS, XS_RING_REQ_PROD, XS_RING_RSP_CONS, XS_RING_RSP_PROD,
  XS_RING_SERVER_FEATURES, XS_RING_CONNECTION, XS_RING_ERROR, XENSTORE_SERVER_FEATURE_RECONNECTION,
  XENSTORE_SERVER_FEATURE_ERROR, XENSTORE_CONNECTED, XENSTORE_RECONNECT, XENSTORE_ERROR_NONE, XENSTORE_ERROR_COMM,
  XENSTORE_ERROR_RINGIDX, XENSTORE_ERROR_PROTO, MASK_XENSTORE_IDX, XsRing,
} from './xs_ring.ts';

export interface XsHeader {
  type: number;
  reqId: number;
  txId: number;
  len: number;
}

export interface XsMessage {
  type: number;
  reqId: number;
  txId: number;
  payload: Uint8Array;
}

// Created on first use: a guest's vm realm has no TextEncoder/TextDecoder, and
// the guest client (src/guest/xs.ts) only uses the byte-level functions.
let utf8Enc: { encode(s: string): Uint8Array } | undefined;
let utf8Dec: { decode(b: Uint8Array): string } | undefined;
const utf8 = { encode: (s: string): Uint8Array => (utf8Enc ??= new TextEncoder()).encode(s) };
const utf8d = { decode: (b: Uint8Array): string => (utf8Dec ??= new TextDecoder()).decode(b) };

/** Bytes of a string (paths are ASCII; values may be anything). */
export function bytes(s: string): Uint8Array {
  return utf8.encode(s);
}

export function text(b: Uint8Array): string {
  return utf8d.decode(b);
}

/** Reads a header at `off`; the caller guarantees 16 bytes are there. */
export function decodeHeader(buf: Uint8Array, off = 0): XsHeader {
  // Plain byte loads, as XsFrameReader.next: a DataView per message was most of a decode.
  return { type: u32le(buf, off), reqId: u32le(buf, off + 4), txId: u32le(buf, off + 8), len: u32le(buf, off + 12) };
}

/** The little-endian u32 at `o` (the caller checked the bounds). */
function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Writes a header into `out` at `off`. */
export function writeHeader(out: Uint8Array, off: number, type: number, reqId: number, txId: number, len: number): void {
  // Plain byte stores: faster than a DataView per message on the hot path.
  out[off] = type; out[off + 1] = type >>> 8; out[off + 2] = type >>> 16; out[off + 3] = type >>> 24;
  out[off + 4] = reqId; out[off + 5] = reqId >>> 8; out[off + 6] = reqId >>> 16; out[off + 7] = reqId >>> 24;
  out[off + 8] = txId; out[off + 9] = txId >>> 8; out[off + 10] = txId >>> 16; out[off + 11] = txId >>> 24;
  out[off + 12] = len; out[off + 13] = len >>> 8; out[off + 14] = len >>> 16; out[off + 15] = len >>> 24;
}

/**
 * The other side broke the protocol: a frame over 4096 bytes, a length that
 * does not match, corrupt ring indices, a reply that does not fit its
 * request. Thrown by this codec; a client that sees it is closed.
 */
export class XsProtocolError extends Error {
  override readonly name = 'XsProtocolError';
}

/**
 * An error reply from xenstored (XS_ERROR): `errno` is Xen's name (ENOENT,
 * EACCES, EAGAIN… see XSD_ERRORS), `op` the request, `path` its first argument.
 * The one error type of every client (the guest's Xs, the toolstack's
 * libxenstore); the daemon's own handlers throw dom0/xenstored's ErrorReply.
 */
export class XsError extends Error {
  override readonly name = 'XsError';
  constructor(
    readonly errno: string,
    readonly op: string,
    readonly path: string,
  ) {
    super(`xenstore ${op}${path ? ` ${path}` : ''}: ${errno}`);
  }
  /** Same as errno (Node style). */
  get code(): string {
    return this.errno;
  }
}

/** Encodes one frame. Throws XsProtocolError if the payload is over 4096 bytes. */
export function encodeMessage(type: number, reqId: number, txId: number, payload: Uint8Array | string): Uint8Array {
  const p = typeof payload === 'string' ? utf8.encode(payload) : payload;
  if (p.length > XENSTORE_PAYLOAD_MAX) throw new XsProtocolError(`xenstore payload of ${p.length} bytes > ${XENSTORE_PAYLOAD_MAX}`);
  const out = new Uint8Array(XS_HEADER_SIZE + p.length);
  writeHeader(out, 0, type >>> 0, reqId >>> 0, txId >>> 0, p.length);
  out.set(p, XS_HEADER_SIZE);
  return out;
}

/** Decodes exactly one whole frame (no trailing bytes allowed). */
export function decodeMessage(frame: Uint8Array): XsMessage {
  const h = checkedHeader(frame);
  return { type: h.type, reqId: h.reqId, txId: h.txId, payload: frame.subarray(XS_HEADER_SIZE) };
}

/**
 * decodeMessage with a copy of the payload: for a reader that keeps the
 * payload beyond the frame's life. One copy instead of a view plus a copy:
 * a view of a short frame (V8 keeps arrays of up to 64 bytes on its heap)
 * first moves the frame's bytes into a buffer of their own.
 */
export function decodeMessageCopy(frame: Uint8Array): XsMessage {
  const h = checkedHeader(frame);
  return { type: h.type, reqId: h.reqId, txId: h.txId, payload: frame.slice(XS_HEADER_SIZE) };
}

/** The header of exactly one whole frame; throws XsProtocolError otherwise. */
function checkedHeader(frame: Uint8Array): XsHeader {
  if (frame.length < XS_HEADER_SIZE) throw new XsProtocolError('short xenstore frame');
  const h = decodeHeader(frame);
  if (h.len > XENSTORE_PAYLOAD_MAX) throw new XsProtocolError(`xenstore len ${h.len} > ${XENSTORE_PAYLOAD_MAX}`);
  if (frame.length !== XS_HEADER_SIZE + h.len) throw new XsProtocolError('xenstore frame length mismatch');
  return h;
}

/**
 * The request argument codec every client uses (xs_wire.h: "the payload is
 * the arguments, each NUL-terminated, except that XS_WRITE's value runs to the
 * end of the payload"): ["a", "b"] → "a\0b\0", then `value` as is. Arguments
 * (paths, tokens, domids, perms) are byte strings in C, encoded latin1 so any
 * byte round-trips through splitStrings(); the value's bytes are the caller's
 * (UTF-8 text or raw). No length check here: encodeMessage() refuses > 4096.
 */
export function encodeArgs(args: readonly string[], value?: Uint8Array): Uint8Array {
  const out = new Uint8Array(argsLength(args, value));
  writeArgs(out, 0, args, value);
  return out;
}

/** The payload length of encodeArgs(args, value). */
function argsLength(args: readonly string[], value: Uint8Array | undefined): number {
  let len = value === undefined ? 0 : value.length;
  for (const a of args) len += a.length + 1;
  return len;
}

/** encodeArgs's bytes written into `out` at `o`. */
function writeArgs(out: Uint8Array, o: number, args: readonly string[], value: Uint8Array | undefined): void {
  for (const a of args) {
    for (let i = 0; i < a.length; i++) out[o++] = a.charCodeAt(i) & 0xff;
    out[o++] = 0;
  }
  if (value !== undefined) out.set(value, o);
}

/**
 * encodeMessage(type, reqId, txId, encodeArgs(args, value)) written straight
 * into the frame (one array, no payload copy); the same XsProtocolError past
 * 4096 bytes.
 */
export function encodeArgsMessage(type: number, reqId: number, txId: number, args: readonly string[], value?: Uint8Array): Uint8Array {
  const len = argsLength(args, value);
  if (len > XENSTORE_PAYLOAD_MAX) throw new XsProtocolError(`xenstore payload of ${len} bytes > ${XENSTORE_PAYLOAD_MAX}`);
  const out = new Uint8Array(XS_HEADER_SIZE + len);
  writeHeader(out, 0, type >>> 0, reqId >>> 0, txId >>> 0, len);
  writeArgs(out, XS_HEADER_SIZE, args, value);
  return out;
}

/** One request frame: encodeArgs() in encodeMessage(). A string `value` is sent as UTF-8. */
export function encodeRequest(type: number, args: readonly string[], opts: { txId?: number; reqId?: number; raw?: Uint8Array | string } = {}): Uint8Array {
  const raw = typeof opts.raw === 'string' ? utf8.encode(opts.raw) : opts.raw;
  return encodeMessage(type, opts.reqId ?? 0, opts.txId ?? 0, encodeArgs(args, raw));
}

/**
 * Splits a payload made only of NUL-terminated strings. Returns undefined if
 * the payload does not end with NUL (malformed). An empty payload → [].
 */
export function splitStrings(p: Uint8Array): string[] | undefined {
  if (p.length === 0) return [];
  if (p[p.length - 1] !== 0) return undefined;
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) {
      out.push(latin1(p, start, i));
      start = i + 1;
    }
  }
  return out;
}

/** Fast ASCII/latin1 decode for paths and tokens (they are byte strings in C). */
export function latin1(p: Uint8Array, start: number, end: number): string {
  if (end - start < 64) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(p[i]!);
    return s;
  }
  return String.fromCharCode.apply(null, Array.from(p.subarray(start, end)));
}

/** Latin1 encode (inverse of latin1()), so arbitrary bytes round-trip through paths/tokens. */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** A parsed error reply's name, or undefined if the frame is not XS_ERROR. */
export function errorName(m: XsMessage): string | undefined {
  if (m.type !== XS_ERROR) return undefined;
  const s = splitStrings(m.payload);
  return s?.[0] ?? text(m.payload);
}

/** What a drained reader holds: one empty buffer for all (nothing reads or writes a byte of it). */
const EMPTY = new Uint8Array(0);

/**
 * Streaming frame reader: feed arbitrary chunks, get whole frames back.
 * Never throws on garbage; a header with len > 4096 puts the reader into the
 * `broken` state (cxenstored then drops the connection) and every later byte
 * is ignored.
 */
export class XsFrameReader {
  private buf: Uint8Array = EMPTY;
  private start = 0;
  private end = 0;
  broken = false;

  /** Appends bytes. Copies only what is left over between calls. */
  push(chunk: Uint8Array): void {
    if (this.broken || chunk.length === 0) return;
    if (this.start === this.end) {
      // Common case: nothing buffered, parse the chunk in place.
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      return;
    }
    const pending = this.end - this.start;
    const merged = new Uint8Array(pending + chunk.length);
    merged.set(this.buf.subarray(this.start, this.end), 0);
    merged.set(chunk, pending);
    this.buf = merged;
    this.start = 0;
    this.end = merged.length;
  }

  /**
   * Next whole frame, or undefined if incomplete or broken. The returned
   * message's payload is its own copy (a payload is at most 4096 bytes; a
   * view of a short chunk would first make V8 move the chunk's bytes off its
   * heap, see decodeMessageCopy, which costs more than the copy).
   */
  next(): XsMessage | undefined {
    if (this.broken) return undefined;
    const avail = this.end - this.start;
    if (avail < XS_HEADER_SIZE) return this.compact();
    const b = this.buf;
    const o = this.start;
    const len = u32le(b, o + 12);
    if (len > XENSTORE_PAYLOAD_MAX) {
      this.broken = true;
      this.buf = EMPTY;
      this.start = this.end = 0;
      return undefined;
    }
    if (avail < XS_HEADER_SIZE + len) return this.compact();
    const type = u32le(b, o);
    const reqId = u32le(b, o + 4);
    const txId = u32le(b, o + 8);
    this.start = o + XS_HEADER_SIZE + len;
    return { type, reqId, txId, payload: b.slice(o + XS_HEADER_SIZE, o + XS_HEADER_SIZE + len) };
  }

  /** Bytes buffered but not yet returned as a frame. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Bytes missing before next() returns a frame (0: one is buffered, or a bad header); a ring reader takes just one request. */
  get needed(): number {
    const avail = this.end - this.start;
    if (avail < XS_HEADER_SIZE) return XS_HEADER_SIZE - avail;
    const b = this.buf;
    const o = this.start;
    const len = u32le(b, o + 12);
    if (len > XENSTORE_PAYLOAD_MAX) return 0;
    return Math.max(0, XS_HEADER_SIZE + len - avail);
  }

  private compact(): undefined {
    // Keep the partial frame in its own small copy so the caller's chunk
    // (possibly a large socket buffer) can be freed.
    if (this.start > 0 && this.start < this.end) {
      this.buf = this.buf.slice(this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    } else if (this.start === this.end) {
      this.buf = EMPTY;
      this.start = this.end = 0;
    }
    return undefined;
  }
}
