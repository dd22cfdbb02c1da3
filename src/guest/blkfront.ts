// blkfront for the unikernel (Mini-OS blkfront.c / mirage-block-xen shape):
// one ring page, one event channel, persistent grants.
//
//   1. read <fe>/backend, backend-id; wait for the backend's InitWait;
//   2. grant the ring page, allocate an unbound port for the backend;
//   3. one transaction: ring-ref, event-channel, protocol=x86_64-abi,
//      feature-persistent=1, state=3 (Initialised);
//   4. wait for Connected, read sectors, sector-size, info; → 4.
// With feature-persistent the data pages are granted once and reused for
// every request (the backend keeps them mapped), which is what lets a block
// layer hold one of them in dom0 (stall case 3).

import { XenbusState } from '../abi/xen.ts';
import { FrontRing } from '../abi/ring.ts';
import { BLKIF_ENTRY, BLKIF_OP, SECTOR_SIZE, decodeResponse, encodeRequest } from '../abi/blkif.ts';
import { Activations, Eventchn, Lwt, Memory, program_start } from './runtime.ts';
import { Gnttab, Pages } from './gnttab.ts';
import { closeWithBackend, reinitialiseUnlessRemoved, waitBackendState } from './xenbus.ts';
import type { XsClient } from './xs.ts';

interface Buf {
  gpfn: number;
  ref: number;
}

export class Blkfront {
  readonly fe: string;
  backend = '';
  backendId = 0;
  port = 0;
  sectors = 0;
  sectorSize = SECTOR_SIZE;
  info = 0;
  /** The backend's feature-flush-cache: flush() is only sent when it is 1. */
  featureFlush = false;
  private ring: FrontRing | undefined;
  private ringBuf: Buf | undefined;
  /** Persistent data pages, one per ring slot id. */
  private readonly bufs: Buf[] = [];
  private readonly free: number[] = [];
  private readonly waiting = new Map<number, Lwt.Resolver<number>>();
  private counter = program_start;
  private running = false;
  /** Bumped per connect(): a loop of an earlier connection exits (hand-over). */
  private gen = 0;
  private stopLoop: Lwt.Resolver<number> | undefined;
  private readonly gnt = Gnttab.get();
  readonly stats = { reads: 0, writes: 0, errors: 0 };

  constructor(readonly xs: XsClient, readonly vdev = 51712) {
    this.fe = `device/vbd/${vdev}`;
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
    const g = Pages.alloc();
    this.ringBuf = { gpfn: g, ref: this.gnt.grant(this.backendId, g) };
    this.ring = FrontRing.init(Memory.frame(g), BLKIF_ENTRY, Memory.point);
    this.free.length = 0;
    for (let i = 0; i < this.ring.nr_ents; i++) this.free.push(this.ring.nr_ents - 1 - i);
    this.port = Eventchn.alloc_unbound(this.backendId);
    const fe = this.fe, ref = this.ringBuf.ref, port = this.port;
    await xs.transaction(async (tx) => {
      await tx.write(`${fe}/ring-ref`, String(ref));
      await tx.write(`${fe}/event-channel`, String(port));
      await tx.write(`${fe}/protocol`, 'x86_64-abi');
      await tx.write(`${fe}/feature-persistent`, '1');
      await tx.write(`${fe}/state`, String(XenbusState.Initialised));
    });
    Eventchn.unmask(this.port);
    this.counter = Activations.counter(this.port);
    if (!(await waitBackendState(xs, this.backend, XenbusState.Connected))) return false;
    this.sectors = Number(await xs.read(`${this.backend}/sectors`));
    this.sectorSize = Number(await xs.read(`${this.backend}/sector-size`));
    this.info = Number(await xs.read(`${this.backend}/info`));
    this.featureFlush = (await xs.tryRead(`${this.backend}/feature-flush-cache`)) === '1';
    await xs.write(`${fe}/state`, String(XenbusState.Connected));
    this.running = true;
    const [stop, stopR] = Lwt.wait<number>();
    this.stopLoop = stopR;
    void this.loop(++this.gen, stop);
    return true;
  }

  private buf(id: number): Buf {
    let b = this.bufs[id];
    if (!b) {
      const gpfn = Pages.alloc();
      b = { gpfn, ref: this.gnt.grant(this.backendId, gpfn) };
      this.bufs[id] = b;
    }
    return b;
  }

  /** One page (8 sectors) at `sector`; resolves with the status (0 = OK). Read data lands in `data`. */
  io(op: 'read' | 'write', sector: number, data: Uint8Array): Lwt.Lwt<number> {
    const ring = this.ring;
    if (!ring || !this.running || this.free.length === 0 || ring.full()) return Lwt.return_(-1);
    const id = this.free.pop()!;
    const b = this.buf(id);
    const page = new Uint8Array(Memory.frame(b.gpfn));
    if (op === 'write') page.set(data.subarray(0, 4096));
    encodeRequest(ring.sring.dv, ring.nextRequest(), {
      operation: op === 'write' ? BLKIF_OP.WRITE : BLKIF_OP.READ, handle: this.vdev, id: BigInt(id), sector_number: BigInt(sector),
      seg: [{ gref: b.ref, first_sect: 0, last_sect: 7 }],
    });
    if (op === 'write') this.stats.writes++;
    else this.stats.reads++;
    if (ring.pushRequestsAndCheckNotify()) Eventchn.notify(this.port);
    const [p, r] = Lwt.wait<number>();
    this.waiting.set(id, r);
    return p.map_((st) => {
      if (op === 'read' && st === 0) data.set(new Uint8Array(Memory.frame(b.gpfn)).subarray(0, data.length));
      return st;
    });
  }

  /**
   * BLKIF_OP_FLUSH_DISKCACHE (no segments): resolves with the status once
   * the backend answered, which it does only after every write it completed
   * before is on stable storage. Writes still in flight are not covered:
   * wait for them first. -1 if not connected, the ring is full, or the
   * backend does not advertise feature-flush-cache (nothing is sent then).
   */
  flush(): Lwt.Lwt<number> {
    const ring = this.ring;
    if (!ring || !this.running || !this.featureFlush || this.free.length === 0 || ring.full()) return Lwt.return_(-1);
    const id = this.free.pop()!;
    encodeRequest(ring.sring.dv, ring.nextRequest(), {
      operation: BLKIF_OP.FLUSH_DISKCACHE, handle: this.vdev, id: BigInt(id), sector_number: 0n, seg: [],
    });
    if (ring.pushRequestsAndCheckNotify()) Eventchn.notify(this.port);
    const [p, r] = Lwt.wait<number>();
    this.waiting.set(id, r);
    return p;
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  private async loop(gen: number, stop: Lwt.Lwt<number>): Promise<void> {
    while (this.running && gen === this.gen) {
      const ring = this.ring!;
      do {
        while (ring.unconsumedResponses() > 0) {
          const rsp = decodeResponse(ring.sring.dv, ring.nextResponse());
          const id = Number(rsp.id);
          const w = this.waiting.get(id);
          this.waiting.delete(id);
          this.free.push(id);
          if (rsp.status !== 0) this.stats.errors++;
          if (w) Lwt.wakeup(w, rsp.status);
        }
      } while (ring.finalCheckForResponses());
      const c = await Lwt.choose([Activations.after(this.port, this.counter), stop]);
      if (c < 0 || gen !== this.gen) return;
      this.counter = c;
    }
  }

  /**
   * Hand-over (docs/architecture.md §6.4): Closing → (backend Closing) → Closed →
   * (backend Closed: blkback has unmapped the ring and every persistent
   * grant) → end every grant (ring, data pages), close the port, fail what
   * was in flight → Initialising, unless the toolstack is removing the device
   * (backend `online` = 0 or gone). True when every grant came back.
   */
  async disconnect(): Promise<boolean> {
    const xs = this.xs;
    this.running = false;
    const stop = this.stopLoop;
    this.stopLoop = undefined;
    if (stop) Lwt.wakeup(stop, -1);
    await closeWithBackend(xs, this.fe, this.backend);
    let all = true;
    const give = (b: Buf | undefined) => {
      if (!b) return;
      if (this.gnt.end(b.ref)) Pages.release(b.gpfn);
      else all = false;
    };
    for (const b of this.bufs) give(b);
    give(this.ringBuf);
    this.bufs.length = 0;
    this.ringBuf = undefined;
    this.ring = undefined;
    this.free.length = 0;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) Lwt.wakeup(w, -1);
    if (this.port !== 0) Eventchn.close(this.port);
    this.port = 0;
    await reinitialiseUnlessRemoved(xs, this.fe, this.backend);
    return all;
  }
}
