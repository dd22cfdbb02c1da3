// xenconsoled: dom0's console daemon (tools/console/daemon/io.c). It watches
// @introduceDomain and @releaseDomain; for each new domain it reads
// /local/domain/N/console/{ring-ref,port}, maps the guest's console page
// (grant ref GNTTAB_RESERVED_CONSOLE, as xenconsoled maps it with
// xengnttab_map_grant_ref) and binds an interdomain port to the guest's
// console port (domain_create_ring). On an event it copies what the guest
// produced out of the ring, moves out_cons, and notifies the guest
// (handle_ring_read: "xenevtchn_notify" after the read), so the guest's
// console port is pending after every line it printed.
//
// Ports: xenstored binds the store port when libxl introduces the domain,
// xenconsoled binds the console port after its watch fired, so dom0's port for
// a guest's console is allocated after the one for its store ring, as on a
// real dom0.
//
// Scale: io.c's enum_domains lists every domain on each @introduceDomain and
// @releaseDomain, a cost per create that grows with the number of domains
// (and a /local/domain listing past XENSTORE_PAYLOAD_MAX at ~900 domains).
// When the domain builder tells the daemon which domain it made and which one
// is dying (expect() / dying(), the machine does), the watches look at those
// domains only; without them the daemon lists /local/domain as before.
//
// Memory: each domain's log keeps its last LOG_MAX bytes; logs of released
// domains stay for `xl console` of a dead domain, for the last KEEP_DEAD.
// (Not io.c's rule: its buffer_append drops the *middle* of the unread
// buffer past its limit, keeping the head; that rule bounds the domain's
// console output in src/xen/console_buffer.ts. This log is a replay of
// recent output, so its tail is what matters.)
//
// Log files: xenode's dom0 runs `xenconsoled --log=guest` (xencommons'
// XENCONSOLED_TRACE=guest; Debian ships it off): every guest's output is
// also appended to LOG_DIR/guest-NAME.log (io.c: create_domain_log), named by
// the domain's name, so it outlives the domain and a domain created again
// with the same name appends to the same file. Bounded here: each file keeps
// its last LOG_MAX bytes and the newest KEEP_LOGS files stay (a real log
// grows until logrotate, and a real directory keeps every file).

import { consoleOutRead } from '../abi/console.ts';
import { GNTTAB_RESERVED_CONSOLE } from '../abi/xen.ts';
import { SimThread, WaitQueue, waitEvent, type Co, type Sim } from '../sim/index.ts';
import type { Dom0Host } from './kernel/host.ts';
import { Libxenstore, type XsTransport } from './toolstack/xs.ts';

const LOG_MAX = 64 * 1024;
const KEEP_DEAD = 32;
const KEEP_LOGS = 64;
/** xenconsoled's --log-dir default. */
export const LOG_DIR = '/var/log/xen/console';

interface ConsoleRing {
  domid: number;
  page: ArrayBuffer;
  handle: number;
  /** dom0's end of the console event channel. */
  port: number;
  log: string;
  /** Its log file's name (guest-NAME.log). */
  file: string;
  /** Set when the ring's indices were found corrupt: nothing more is read. */
  broken: boolean;
  /** Keeps a UTF-8 sequence split across two reads whole. */
  decoder: InstanceType<typeof TextDecoder>;
  /** The decoder holds no part of a sequence (its last input ended with an ASCII byte): see consoleText. */
  clean: boolean;
}

/**
 * The guest's console bytes as text. A read of ASCII only while the decoder
 * holds nothing is the bytes themselves: the usual console line, and a
 * streaming TextDecoder call costs tens of microseconds (a few percent of an
 * explore schedule). Anything else goes through the decoder, which keeps a
 * UTF-8 sequence split across reads whole; after an ASCII byte it holds
 * nothing again. The decoder keeps a byte-order mark (ignoreBOM), as the
 * real xenconsoled copies the bytes: a decoder that strips one at the start
 * of its stream would strip it wherever the first non-ASCII read happens.
 */
export function consoleText(r: { decoder: InstanceType<typeof TextDecoder>; clean: boolean }, bytes: Uint8Array): string {
  if (r.clean) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  r.clean = bytes.length > 0 && bytes[bytes.length - 1]! < 0x80;
  return r.decoder.decode(bytes, { stream: true });
}

export interface XenconsoledOptions {
  sim: Sim;
  dom0: Dom0Host;
  /** A dom0 connection to xenstored (in-process). */
  xenstore: XsTransport;
  /** Each chunk of a domain's output as it is read (the CLI prints it live). */
  onOutput?: (domid: number, text: string) => void;
  /** xc_domain_getinfo: is `domid` gone or dying (its console must be let go)? */
  domainGone: (domid: number) => boolean;
  /** One line per problem (dmesg-like). */
  log?: (line: string) => void;
  pid?: number;
}

export class Xenconsoled {
  private readonly rings = new Map<number, ConsoleRing>();
  private readonly dead = new Map<number, string>();
  /** LOG_DIR's files by name, oldest first (Map order: a write moves a file to the end). */
  private readonly files = new Map<string, string>();
  private readonly xs: Libxenstore;
  private readonly wq = new WaitQueue();
  /** Set by the watch callbacks, cleared by the daemon's thread before it rescans. */
  private dirty = true;
  readonly thread: SimThread;
  /** Set by the first expect(): the builder reports domains, no listing of all of them. */
  private tracked = false;
  /** Domains made whose console is not attached yet. */
  private readonly pending = new Set<number>();
  /** Domains reported dying whose ring is still attached. */
  private readonly releasing = new Set<number>();

  constructor(private readonly o: XenconsoledOptions) {
    this.xs = new Libxenstore(o.xenstore);
    const self = this;
    this.thread = new SimThread(o.sim, o.pid ?? 300, 'xenconsoled', function* (): Co {
      yield* self.xs.watch('@introduceDomain', 'xenconsoled-intro', () => self.poke());
      // The release needs no xenstore read: let go of dying domains at once,
      // before libxl's destroy path looks at the domain again.
      yield* self.xs.watch('@releaseDomain', 'xenconsoled-release', () => {
        if (self.tracked) {
          for (const domid of [...self.releasing]) {
            if (!o.domainGone(domid)) continue;
            self.releasing.delete(domid);
            self.pending.delete(domid);
            self.detach(domid);
          }
        } else for (const domid of [...self.rings.keys()]) if (o.domainGone(domid)) self.detach(domid);
        self.poke();
      });
      for (;;) {
        yield* waitEvent(self.wq, () => self.dirty);
        self.dirty = false;
        yield* self.rescan();
      }
    }, ['ret_from_fork']);
  }

  /** The output of `domid` so far (a live or recently released domain). */
  output(domid: number): string | undefined {
    return this.rings.get(domid)?.log ?? this.dead.get(domid);
  }

  /** The files in LOG_DIR (guest-NAME.log), sorted as `ls` does. */
  logFiles(): string[] {
    return [...this.files.keys()].sort();
  }

  /** A file of LOG_DIR by name, or undefined. */
  logFile(name: string): string | undefined {
    return this.files.get(name);
  }

  /** dom0's port for `domid`'s console (the 'e' dump's p= on the guest's console port). */
  port(domid: number): number | undefined {
    return this.rings.get(domid)?.port;
  }

  /** The domain builder made `domid`: attach its console at the next @introduceDomain. */
  expect(domid: number): void {
    this.tracked = true;
    this.pending.add(domid);
  }

  /** `domid` is being destroyed: let go of its ring at the next @releaseDomain. */
  dying(domid: number): void {
    this.releasing.add(domid);
  }

  private poke(): void {
    this.dirty = true;
    this.wq.wakeAll();
  }

  /** enum_domains: attach new domains, detach gone ones. */
  private *rescan(): Co {
    if (this.tracked) {
      // Only the domains made since (a handful), never all of them.
      for (const domid of [...this.pending]) {
        if (this.rings.has(domid) || this.o.domainGone(domid)) {
          this.pending.delete(domid);
          continue;
        }
        const port = Number((yield* this.xs.read(0, `/local/domain/${domid}/console/port`)) ?? NaN);
        if (!Number.isInteger(port) || port <= 0) continue; // not built yet: the next introduce
        const name = (yield* this.xs.read(0, `/local/domain/${domid}/name`)) ?? `d${domid}`;
        if (this.rings.has(domid) || !this.pending.has(domid)) continue;
        this.pending.delete(domid);
        this.attach(domid, port, name);
      }
      return;
    }
    const ids = ((yield* this.xs.directory(0, '/local/domain')) ?? []).map(Number).filter((d) => Number.isInteger(d) && d > 0);
    const live = new Set(ids);
    // @releaseDomain: a dying domain's ring is unmapped at once (its xenstore
    // directory may outlive it until libxl removes it), so it can be reaped.
    for (const domid of [...this.rings.keys()]) if (!live.has(domid) || this.o.domainGone(domid)) this.detach(domid);
    for (const domid of ids) {
      if (this.rings.has(domid) || this.o.domainGone(domid)) continue;
      const port = Number((yield* this.xs.read(0, `/local/domain/${domid}/console/port`)) ?? NaN);
      if (!Number.isInteger(port) || port <= 0) continue; // not built yet, or no console
      const name = (yield* this.xs.read(0, `/local/domain/${domid}/name`)) ?? `d${domid}`;
      if (this.rings.has(domid)) continue;
      this.attach(domid, port, name);
    }
  }

  private attach(domid: number, rport: number, name: string): void {
    const { dom0 } = this.o;
    const m = dom0.gnttab.map(domid, GNTTAB_RESERVED_CONSOLE, false);
    if (m.status !== 0 || !m.page) {
      this.o.log?.(`xenconsoled: d${domid}: cannot map the console ring (grant status ${m.status})`);
      return;
    }
    const port = dom0.evtchn.bindInterdomain(domid, rport);
    if (port < 0) {
      dom0.gnttab.unmap(m.handle);
      this.o.log?.(`xenconsoled: d${domid}: cannot bind console port ${rport} (${port})`);
      return;
    }
    const ring: ConsoleRing = { domid, page: m.page, handle: m.handle, port, log: this.dead.get(domid) ?? '', file: `guest-${name}.log`, broken: false, decoder: new TextDecoder('utf-8', { ignoreBOM: true }), clean: true };
    this.dead.delete(domid);
    this.rings.set(domid, ring);
    // create_domain_log opens (creates) the file when the domain appears.
    if (!this.files.has(ring.file)) {
      this.files.set(ring.file, '');
      if (this.files.size > KEEP_LOGS) this.files.delete(this.files.keys().next().value!);
    }
    dom0.bindHandler(port, () => this.read(ring), 'xenconsoled');
    // bind_interdomain leaves our new port pending: read what was written before we came.
    this.read(ring);
  }

  /** handle_ring_read: take the guest's output, then tell it there is room again. */
  private read(r: ConsoleRing): void {
    if (r.broken) return;
    const bytes = consoleOutRead(r.page);
    if (!bytes) {
      r.broken = true;
      this.o.log?.(`xenconsoled: d${r.domid}: console ring indices corrupt; ignoring the ring`);
      return;
    }
    if (bytes.length === 0) return;
    const text = consoleText(r, bytes);
    r.log = (r.log + text).slice(-LOG_MAX);
    const prev = this.files.get(r.file) ?? '';
    this.files.delete(r.file);
    this.files.set(r.file, (prev + text).slice(-LOG_MAX));
    if (this.files.size > KEEP_LOGS) this.files.delete(this.files.keys().next().value!);
    this.o.onOutput?.(r.domid, text);
    this.o.dom0.evtchn.send(r.port);
  }

  private detach(domid: number): void {
    const r = this.rings.get(domid);
    if (!r) return;
    this.rings.delete(domid);
    this.o.dom0.evtchn.close(r.port);
    this.o.dom0.gnttab.unmap(r.handle);
    this.dead.set(domid, r.log);
    while (this.dead.size > KEEP_DEAD) this.dead.delete(this.dead.keys().next().value!);
  }
}
