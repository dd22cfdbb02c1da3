// The xenstore operations on nodes (read, write, directory, rm, mkdir, perms)
// a guest sends alone or inside a transaction (xs_wire.h's XS_* types; the
// names follow libxenstore's xs_read, xs_write, xs_directory, ...). They only
// build the request and check the reply's shape; sending it and matching the
// reply is the connection's (xs_connection.ts).

import { defer, type Observable } from 'rxjs';
import {
  XS_DIRECTORY, XS_DIRECTORY_PART, XS_GET_PERMS, XS_MKDIR, XS_READ, XS_RM, XS_SET_PERMS, XS_WRITE,
  XsError, XsProtocolError, splitStrings, type XsMessage,
} from '../abi/xs_wire.ts';
import * as Lwt from './lwt.ts';
import { fromLwt, toLwt } from './rx.ts';
import { utf8Decode, utf8Encode } from './utf8.ts';

/** A permission entry: `n5`, `r0`, `w3`, `b7`. */
export interface XsPerm {
  perm: 'n' | 'r' | 'w' | 'b';
  domid: number;
}

export function parsePerm(s: string): XsPerm {
  const m = /^([nrwb])(\d+)$/.exec(s);
  if (!m) throw new XsProtocolError(`xenstore: malformed permission "${s}"`);
  return { perm: m[1] as XsPerm['perm'], domid: Number(m[2]) };
}

export function formatPerm(p: XsPerm | string): string {
  return typeof p === 'string' ? p : `${p.perm}${p.domid}`;
}

/** What a handle sends its requests through (XsConnection; an interface so that this file needs no import of it). */
export interface XsRequester {
  /** Sends one request with `txId`; resolves with the reply, rejects with XsError on XS_ERROR (XsConnection.request). */
  request(type: number, txId: number, path: string, args: readonly string[], raw?: Uint8Array, late?: (m: XsMessage) => void): Lwt.Lwt<XsMessage>;
  /** Resubscribes to `attempt$` while it fails with EAGAIN (XsConnection.retryEagain). */
  retryEagain<T>(attempt$: Observable<T>, count: number): Observable<T>;
}

/** Attempts at a DIRECTORY_PART listing while the directory keeps changing under it (its generation moves). */
const MAX_DIRECTORY_ATTEMPTS = 10;

/** Operations that may run inside a transaction (tx 0 = none). */
export class XsHandle {
  constructor(
    protected readonly client: XsRequester,
    readonly txId: number,
  ) {}

  /** XS_READ: the value (UTF-8). */
  read(path: string): Lwt.Lwt<string> {
    return this.client.request(XS_READ, this.txId, path, [path]).map_((m) => utf8Decode(m.payload));
  }

  /** XS_READ as raw bytes. */
  readBytes(path: string): Lwt.Lwt<Uint8Array> {
    return this.client.request(XS_READ, this.txId, path, [path]).map_((m) => m.payload.slice());
  }

  /** XS_WRITE (creates missing parents). */
  write(path: string, value: string | Uint8Array): Lwt.Lwt<void> {
    const v = typeof value === 'string' ? utf8Encode(value) : value;
    return this.client.request(XS_WRITE, this.txId, path, [path], v).map_(okReply(path, 'WRITE'));
  }

  /**
   * XS_DIRECTORY: child names. A list too big for one reply (E2BIG; ENOSYS
   * counts the same, as in libxenstore) is fetched with XS_DIRECTORY_PART by
   * byte offset, restarting if the node's generation changes meanwhile.
   */
  directory(path: string): Lwt.Lwt<string[]> {
    return Lwt.catch_(
      () => this.client.request(XS_DIRECTORY, this.txId, path, [path]).map_((m) => strings(m, 'DIRECTORY', path)),
      (e) => {
        if (!(e instanceof XsError && (e.errno === 'E2BIG' || e.errno === 'ENOSYS'))) throw e;
        // A generation change restarts from offset 0: EAGAIN, retried like a transaction.
        return toLwt(this.client.retryEagain(defer(() => fromLwt(() => this.directoryParts(path))), MAX_DIRECTORY_ATTEMPTS - 1));
      },
    );
  }

  private directoryParts(path: string): Lwt.Lwt<string[]> {
    const names: string[] = [];
    let gen: string | undefined;
    const part = (offset: number): Lwt.Lwt<string[]> =>
      this.client.request(XS_DIRECTORY_PART, this.txId, path, [path, String(offset)]).bind_((m) => {
        // `gen\0` + `name\0`*, plus one extra `\0` on the last chunk.
        const p = m.payload;
        const s = strings(m, 'DIRECTORY_PART', path);
        if (s.length === 0) throw new XsProtocolError(`xenstore DIRECTORY_PART ${path}: malformed reply (no generation)`);
        if (gen === undefined) gen = s[0];
        else if (gen !== s[0]) throw new XsError('EAGAIN', 'DIRECTORY_PART', path);
        const last = p.length >= 2 && p[p.length - 2] === 0;
        const kids = s.slice(1).filter((k, i, a) => !(last && i === a.length - 1 && k === ''));
        let bytes = 0;
        for (const k of kids) bytes += k.length + 1;
        names.push(...kids);
        if (last) return Lwt.return_(names);
        if (bytes === 0) throw new XsProtocolError(`xenstore DIRECTORY_PART ${path}: no progress at offset ${offset}`);
        return part(offset + bytes);
      });
    return part(0);
  }

  rm(path: string): Lwt.Lwt<void> {
    return this.client.request(XS_RM, this.txId, path, [path]).map_(okReply(path, 'RM'));
  }

  mkdir(path: string): Lwt.Lwt<void> {
    return this.client.request(XS_MKDIR, this.txId, path, [path]).map_(okReply(path, 'MKDIR'));
  }

  getPerms(path: string): Lwt.Lwt<XsPerm[]> {
    return this.client.request(XS_GET_PERMS, this.txId, path, [path]).map_((m) => strings(m, 'GET_PERMS', path).map(parsePerm));
  }

  /** XS_SET_PERMS: entry 0 is the owner and everyone else's default. */
  setPerms(path: string, perms: ReadonlyArray<XsPerm | string>): Lwt.Lwt<void> {
    return this.client.request(XS_SET_PERMS, this.txId, path, [path, ...perms.map(formatPerm)]).map_(okReply(path, 'SET_PERMS'));
  }

  /** read(), with ENOENT as undefined. */
  tryRead(path: string): Lwt.Lwt<string | undefined> {
    return Lwt.catch_(
      () => this.read(path),
      (e) => {
        if (e instanceof XsError && e.errno === 'ENOENT') return undefined;
        throw e;
      },
    );
  }
}

export function okReply(path: string, op: string) {
  return (m: XsMessage): void => {
    // cxenstored answers "OK\0"; accept any NUL-terminated string, but not garbage without a NUL.
    if (m.payload.length > 0 && m.payload[m.payload.length - 1] !== 0) throw new XsProtocolError(`xenstore ${op} ${path}: malformed reply (no NUL)`);
  };
}

export function strings(m: XsMessage, op: string, path: string): string[] {
  const s = splitStrings(m.payload);
  if (s === undefined) throw new XsProtocolError(`xenstore ${op} ${path}: malformed reply (not a NUL-terminated list)`);
  return s;
}

/** A transaction's handle: every operation carries its tx_id. */
export class XsTransaction extends XsHandle {}
