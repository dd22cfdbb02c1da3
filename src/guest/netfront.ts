// netfront for the unikernel (Mini-OS netfront.c / mirage-net-xen shape):
// one queue, one event channel, copy-mode RX.
//
//   1. read <fe>/backend and backend-id; wait until the backend is InitWait;
//   2. grant one TX and one RX ring page, allocate an unbound port for the
//      backend, post RX buffers (each a granted page);
//   3. one transaction: tx-ring-ref, rx-ring-ref, event-channel,
//      request-rx-copy=1, feature-rx-notify=1, feature-sg=0, state=4
//      (Mini-OS writes Connected directly, never Initialised);
//   4. wait for the backend's Connected.
// Events are consumed with Activations.after and producer indices, never by
// counting notifications (they coalesce).
//
// Hand-over (kexec, docs/architecture.md §6.4): disconnect() goes Closing, waits
// for the backend to close, ends *every* grant it made (rings, RX buffers, TX
// pages), frees the port and goes Initialising; connect() can then run again.
// A detach/attach loop therefore leaks no grant.
//
// Received frames go to `onReceive` (one callback, the network stack) and to
// the `frames` stream (RxJS, any number of subscribers), in ring order, from
// the RX loop's pass over the ring.

import { Subject, type Observable } from 'rxjs';
import { PAGE_SIZE, XenbusState } from '../abi/xen.ts';
import { FrontRing } from '../abi/ring.ts';
import {
  NETIF_RX_ENTRY, NETIF_TX_ENTRY, NETTXF, decodeRxResponse, decodeTxResponse, encodeRxRequest, encodeTxRequest,
} from '../abi/netif.ts';
import { Activations, Eventchn, Lwt, Memory, program_start } from './runtime.ts';
import type { XsClient } from './xs.ts';
import { Gnttab, Pages } from './gnttab.ts';
import { Slab } from '../lib/slab.ts';
import { closeWithBackend, reinitialiseUnlessRemoved, waitBackendState } from './xenbus.ts';

interface Slot {
  ref: number;
  gpfn: number;
}

export interface NetfrontStats {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  txErrors: number;
}

export class Netfront {
  readonly fe: string;
  backend = '';
  backendId = 0;
  port = 0;
  private tx: FrontRing | undefined;
  private rx: FrontRing | undefined;
  private txRing: Slot | undefined;
  private rxRing: Slot | undefined;
  private readonly rxBufs = new Map<number, Slot>();
  private readonly txPending = new Map<number, Slot>();
  private txFreeIds: number[] = [];
  /**
   * TX pages whose grant has ended, kept for the next send (Mini-OS keeps one
   * page per TX id the same way): a page per packet from Pages would be
   * zeroed (4 KiB) on every release. Stale bytes past a frame are our own
   * earlier frames; the backend reads only offset..size. Given back to Pages
   * by disconnect().
   */
  private readonly txPages: number[] = [];
  /** Received frames are copied into views of shared slabs (lib/slab.ts). */
  private readonly slab = new Slab();
  private counter = program_start;
  private running = false;
  /** Bumped per connect() and disconnect(): a loop of an earlier connection exits instead of polling. */
  private gen = 0;
  readonly stats: NetfrontStats = { txPackets: 0, txBytes: 0, rxPackets: 0, txErrors: 0 };
  onReceive: ((frame: Uint8Array) => void) | undefined;
  private readonly received = new Subject<Uint8Array>();
  /**
   * Every frame received from now on (a copy each; hot: nothing is buffered
   * for a late subscriber). Spans reconnects (disconnect/connect); never
   * completes or errors.
   */
  readonly frames: Observable<Uint8Array> = this.received.asObservable();
  private readonly gnt = Gnttab.get();

  constructor(readonly xs: XsClient, readonly devid = 0, readonly nrRx = 32) {
    this.fe = `device/vif/${devid}`;
  }

  /**
   * True once connected; false when the toolstack removed the device before
   * the backend got to InitWait or Connected (disconnect() then gives back
   * whatever was set up).
   */
  async connect(): Promise<boolean> {
    const xs = this.xs;
    this.backend = await xs.read(`${this.fe}/backend`);
    this.backendId = Number(await xs.read(`${this.fe}/backend-id`));
    if (!(await waitBackendState(xs, this.backend, XenbusState.InitWait))) return false;
    this.txRing = this.page();
    this.rxRing = this.page();
    this.tx = FrontRing.init(Memory.frame(this.txRing.gpfn), NETIF_TX_ENTRY, Memory.point);
    this.rx = FrontRing.init(Memory.frame(this.rxRing.gpfn), NETIF_RX_ENTRY, Memory.point);
    const ids: number[] = [];
    for (let i = this.tx.nr_ents - 1; i >= 0; i--) ids.push(i);
    this.txFreeIds = ids;
    this.port = Eventchn.alloc_unbound(this.backendId);
    for (let id = 0; id < this.nrRx; id++) this.postRx(id);
    // Publish them now (Mini-OS netfront.c: init_rx_buffers pushes before
    // connecting): netback looks at req_prod only when it has a packet, and a
    // buffer left in req_prod_pvt is one it never sees. No notify: the
    // backend has not bound the port yet.
    this.rx.pushRequestsAndCheckNotify();
    const fe = this.fe;
    const t = this.txRing.ref, r = this.rxRing.ref, port = this.port;
    await xs.transaction(async (tx) => {
      await tx.write(`${fe}/tx-ring-ref`, String(t));
      await tx.write(`${fe}/rx-ring-ref`, String(r));
      await tx.write(`${fe}/event-channel`, String(port));
      await tx.write(`${fe}/request-rx-copy`, '1');
      await tx.write(`${fe}/feature-rx-notify`, '1');
      await tx.write(`${fe}/feature-sg`, '0');
      await tx.write(`${fe}/state`, String(XenbusState.Connected));
    });
    Eventchn.unmask(this.port);
    this.counter = Activations.counter(this.port);
    if (!(await waitBackendState(xs, this.backend, XenbusState.Connected))) return false;
    this.running = true;
    void this.loop(++this.gen);
    return true;
  }

  private page(): Slot {
    const gpfn = Pages.alloc();
    return { gpfn, ref: this.gnt.grant(this.backendId, gpfn) };
  }

  private postRx(id: number): void {
    const s = this.rxBufs.get(id) ?? this.page();
    this.rxBufs.set(id, s);
    encodeRxRequest(this.rx!.sring.dv, this.rx!.nextRequest(), { id, gref: s.ref });
  }

  /** Queue one frame (≤ 4096 bytes, one slot). False if the ring is full. */
  send(frame: Uint8Array): boolean {
    const tx = this.tx;
    if (!tx || !this.running || tx.full() || this.txFreeIds.length === 0 || frame.length > PAGE_SIZE) return false;
    const id = this.txFreeIds.pop()!;
    const gpfn = this.txPages.pop() ?? Pages.alloc();
    new Uint8Array(Memory.frame(gpfn)).set(frame);
    const ref = this.gnt.grant(this.backendId, gpfn, true);
    this.txPending.set(id, { ref, gpfn });
    encodeTxRequest(tx.sring.dv, tx.nextRequest(), { gref: ref, offset: 0, flags: NETTXF.data_validated, id, size: frame.length });
    this.stats.txPackets++;
    this.stats.txBytes += frame.length;
    if (tx.pushRequestsAndCheckNotify()) Eventchn.notify(this.port);
    return true;
  }

  get txInFlight(): number {
    return this.txPending.size;
  }

  /**
   * Poll, then wait for the port's next event (or disconnect). An Lwt bind
   * chain, not an async function: a native `await` per packet would put each
   * wakeup through the realm's microtask queue (a loader round trip, see
   * main.ts: drainRealm); Lwt's proxies keep the chain constant in memory.
   */
  private loop(gen: number): Lwt.Lwt<void> {
    if (!this.running || gen !== this.gen) return Lwt.return_unit;
    this.poll();
    // Only the `after` promise per wait, no pick() against a stop promise
    // (that costs a promise, an array and listeners per packet under ping -f;
    // a connection-long stop promise given to choose() would also collect a
    // listener per packet). disconnect() bumps `gen` instead: the wait on the
    // closed port then never resolves, or resolves on a new connection's
    // reuse of the port number and returns here (one waiter per disconnect).
    return Lwt.bind(Activations.after(this.port, this.counter), (c) => {
      if (gen !== this.gen) return Lwt.return_unit;
      this.counter = c;
      return this.loop(gen);
    });
  }

  private poll(): void {
    const tx = this.tx, rx = this.rx;
    if (!tx || !rx) return;
    do {
      while (tx.unconsumedResponses() > 0) {
        const r = decodeTxResponse(tx.sring.dv, tx.nextResponse());
        const s = this.txPending.get(r.id);
        if (r.status < 0) this.stats.txErrors++;
        if (s && this.gnt.end(s.ref)) {
          this.txPages.push(s.gpfn);
          this.txPending.delete(r.id);
          this.txFreeIds.push(r.id);
        }
      }
    } while (tx.finalCheckForResponses());
    let repost = false;
    do {
      while (rx.unconsumedResponses() > 0) {
        const r = decodeRxResponse(rx.sring.dv, rx.nextResponse());
        const s = this.rxBufs.get(r.id);
        if (s && r.status > 0) {
          this.stats.rxPackets++;
          const rcv = this.onReceive;
          if (rcv || this.received.observed) {
            // Copied out: the buffer goes back to the backend right below. The
            // slab's frame is valid during onReceive only; observers get their own copy.
            const f = this.slab.alloc(r.status);
            f.set(new Uint8Array(Memory.frame(s.gpfn), r.offset, r.status));
            rcv?.(f);
            if (this.received.observed) this.received.next(f.slice());
          }
        }
        this.postRx(r.id);
        repost = true;
      }
    } while (rx.finalCheckForResponses());
    if (repost && rx.pushRequestsAndCheckNotify()) Eventchn.notify(this.port);
  }

  /**
   * Closing → (backend Closing/Closed) → Closed, give every grant back, →
   * Initialising. When the toolstack is removing the device (backend
   * `online` = 0, or its directory already gone) the frontend stays Closed:
   * writing Initialising would recreate a node libxl is about to remove.
   */
  async disconnect(): Promise<boolean> {
    const xs = this.xs;
    this.running = false;
    this.gen++; // the RX/TX loop returns at its next wakeup instead of polling
    await closeWithBackend(xs, this.fe, this.backend);
    let all = true;
    const give = (s: Slot | undefined) => {
      if (!s) return;
      if (this.gnt.end(s.ref)) Pages.release(s.gpfn);
      else all = false;
    };
    for (const s of this.rxBufs.values()) give(s);
    for (const s of this.txPending.values()) give(s);
    give(this.txRing);
    give(this.rxRing);
    for (const gpfn of this.txPages.splice(0)) Pages.release(gpfn);
    this.rxBufs.clear();
    this.txPending.clear();
    this.txRing = this.rxRing = undefined;
    this.tx = this.rx = undefined;
    if (this.port !== 0) Eventchn.close(this.port);
    this.port = 0;
    await reinitialiseUnlessRemoved(xs, this.fe, this.backend);
    return all;
  }
}
