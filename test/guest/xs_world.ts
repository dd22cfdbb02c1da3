// Test harness for the guest xenstore client (src/guest/xs.ts): the real
// daemon (src/dom0/xenstored) serving one guest over an in-process ring page.
// Event channels are modelled as deferred flags: the client's notify marks the
// daemon's side, the daemon's notify marks the guest's side, and `drive()`
// delivers them one at a time between Lwt run-queue passes, so both sides see
// the other only through the ring indices (ring-full and partial-reply paths
// really happen). A virtual clock (the runtime's Time on a fake vcpu_info)
// drives the client's RxJS scheduler: `drive()` moves it to the next deadline
// only when nothing else can run, so timeouts and back-off fire at their
// virtual times.
import {
  XS_ERROR, XS_INTRODUCE, XS_MKDIR, XS_SET_PERMS, XS_WRITE,
} from '../../src/abi/xs_wire.ts';
import { Xenstored } from '../../src/dom0/xenstored/xenstored.ts';
import { decodeReply, encodeRequest, type DecodedReply } from '../../src/dom0/xenstored/local.ts';
import type { GuestDoors } from '../../src/abi/doors.ts';
import * as Lwt from '../../src/guest/lwt.ts';
import { GuestScheduler } from '../../src/guest/rx.ts';
import { Time } from '../../src/guest/time.ts';
import { Xs, type XsClient } from '../../src/guest/xs.ts';
import type { XsIO } from '../../src/guest/xs_connection.ts';

/** Virtual time: Time on a fake vcpu_info (rdtsc = now, ns), and the guest's RxJS scheduler on it. */
export function virtualClock() {
  let now = 0;
  const si = new ArrayBuffer(4096);
  const time = new Time({ frame: () => si, rdtsc: () => now } as unknown as GuestDoors, 5);
  const scheduler = new GuestScheduler(time);
  /** Fire the earliest deadline (moving the clock there); false if none. */
  const next = (): boolean => {
    const d = time.next_deadline();
    if (d === undefined) return false;
    if (d > now) now = d;
    time.restart_threads(now);
    return true;
  };
  return { time, scheduler, next, ms: () => now / 1e6 };
}

export interface EvChannel {
  counter: number;
  afters: Array<{ c: number; r: Lwt.Resolver<number> }>;
}

/** An event channel end as Activations sees it: a counter and lossless `after`. */
export function channel(): EvChannel & { after(c: number): Lwt.Lwt<number>; fire(): void } {
  const ch = {
    counter: 0,
    afters: [] as Array<{ c: number; r: Lwt.Resolver<number> }>,
    after(c: number): Lwt.Lwt<number> {
      if (ch.counter > c) return Lwt.return_(ch.counter);
      const [p, r] = Lwt.wait<number>();
      ch.afters.push({ c, r });
      return p;
    },
    fire(): void {
      ch.counter++;
      const keep = ch.afters.filter((a) => ch.counter <= a.c);
      for (const a of ch.afters) if (ch.counter > a.c) Lwt.wakeup_later(a.r, ch.counter);
      ch.afters = keep;
    },
  };
  return ch;
}

export class Dom0 {
  private readonly conn;
  private last: DecodedReply[] = [];
  constructor(readonly d: Xenstored) {
    this.conn = d.connectLocal();
    this.conn.onMessage = (f) => void this.last.push(decodeReply(f));
  }
  /** One request; returns its reply (events are dropped). */
  q(type: number, args: string[], raw?: string): DecodedReply {
    this.last = [];
    this.conn.send(encodeRequest(type, args, raw === undefined ? {} : { raw }));
    const r = this.last.filter((m) => m.type !== 15).pop();
    if (!r) throw new Error('dom0: no reply');
    return r;
  }
  ok(type: number, args: string[], raw?: string): void {
    const r = this.q(type, args, raw);
    if (r.type === XS_ERROR) throw new Error(`dom0 request ${type} ${args.join(' ')}: ${r.error}`);
  }
  write(path: string, value: string): void {
    this.ok(XS_WRITE, [path], value);
  }
  read(path: string): string | undefined {
    const r = this.q(2, [path]);
    return r.type === XS_ERROR ? undefined : r.text;
  }
}

export interface WorldOptions {
  domid?: number;
  /** Prepare the page before the daemon maps it (e.g. preset indices). */
  initPage?: (page: ArrayBuffer) => void;
  /** The client's request timeout (virtual ms). */
  timeoutMs?: number;
}

export function world(opts: WorldOptions = {}) {
  const domid = opts.domid ?? 5;
  const page = new ArrayBuffer(4096);
  opts.initPage?.(page);
  const guestCh = channel();
  let guestPending = false;
  let daemonPending = false;
  const d = new Xenstored({
    mapRing: (id) => (id === domid ? { page, notify: () => void (guestPending = true) } : -2),
  });
  const dom0 = new Dom0(d);
  // What libxl makes: home n0 r<domid>, data owned by the guest.
  const home = `/local/domain/${domid}`;
  dom0.ok(XS_MKDIR, [home]);
  dom0.ok(XS_SET_PERMS, [home, 'n0', `r${domid}`]);
  dom0.write(`${home}/name`, `guest${domid}`);
  dom0.write(`${home}/domid`, String(domid));
  dom0.ok(XS_MKDIR, [`${home}/data`]);
  dom0.ok(XS_SET_PERMS, [`${home}/data`, `n${domid}`]);
  dom0.ok(XS_INTRODUCE, [String(domid), '0', '1']);
  const clock = virtualClock();
  /** While set, the daemon is not kicked: requests sit on the ring unanswered. */
  const daemon = { deaf: false };
  const io: XsIO = {
    page,
    notify: () => void (daemonPending = true),
    counter: () => guestCh.counter,
    after: (c) => guestCh.after(c),
    scheduler: clock.scheduler,
  };
  const xs: XsClient = Xs.create(io, { timeoutMs: opts.timeoutMs });

  /** Deliver one pending notification (daemon first); false if none. */
  const step = (): boolean => {
    if (daemonPending && !daemon.deaf) {
      daemonPending = false;
      d.kick(domid);
      return true;
    }
    if (guestPending) {
      guestPending = false;
      guestCh.fire();
      return true;
    }
    return false;
  };

  /** Runs Lwt, notifications and native microtasks until `p` settles; throws if it gets stuck. */
  async function drive<T>(p: PromiseLike<T> | Lwt.Lwt<T>): Promise<T> {
    const lp = p instanceof Lwt.Lwt ? p : Lwt.of_promise(p);
    let idle = 0;
    for (let i = 0; i < 1_000_000; i++) {
      Lwt.run_queue();
      if (lp.state() !== 'pending') return lp.value();
      if (step()) {
        idle = 0;
        continue;
      }
      // Let native continuations (`await` on an Lwt) run.
      await new Promise<void>((r) => setImmediate(r));
      if (Lwt.queue_length() > 0) {
        idle = 0;
        continue;
      }
      if (++idle > 3 && clock.next()) {
        idle = 0;
        continue;
      }
      if (idle > 3) throw new Error(`stuck: promise pending with nothing to run (in flight ${xs.inFlight})`);
    }
    throw new Error('drive: too many rounds');
  }

  /** Deliver everything pending (events after a dom0 write). */
  async function settle(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      Lwt.run_queue();
      if (step()) continue;
      await new Promise<void>((r) => setImmediate(r));
      if (Lwt.queue_length() === 0 && (!daemonPending || daemon.deaf) && !guestPending) return;
    }
  }

  return { d, dom0, xs, io, page, domid, home, drive, settle, guestCh, clock, daemon };
}
