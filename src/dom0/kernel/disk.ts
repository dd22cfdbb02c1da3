// The block layer below blkback: a disk image file on the host (node:fs, the
// loop device's backing file) and a request queue that completes bios after a
// latency on the virtual clock.
//
// Durability: a write is in the host's page cache once pwrite returns (it
// survives a kill of this process, not a crash of the host). A flush bio
// (REQ_PREFLUSH, what blkback makes of FLUSH_DISKCACHE and WRITE_BARRIER)
// calls fdatasync on the image before it completes, so a response the guest
// sees after a flush means stable storage. A `mem:` disk has no stable
// storage; its flush completes at once.
//
// Fault (stall case 2 of docs/architecture.md §5.2): `stall()` makes the queue stop
// completing I/O, as a hung NFS or iSCSI backing store does. In-flight bios
// stay in flight; the old xen_blkif_disconnect waits for them and so does the
// watch thread running it. `resume()` completes everything that was held.

import fs from 'node:fs';
import type { Sim } from '../../sim/index.ts';

export const SECTOR = 512;

/**
 * A `mem:` disk's bytes, allocated a chunk at a time on first write (a sparse
 * file): a 16 MiB disk that sees a few hundred writes costs those chunks, not
 * 16 MiB zeroed at every domain create. Unwritten bytes read as zeros.
 */
class SparseMemory {
  static readonly CHUNK = 64 << 10;
  private readonly chunks = new Map<number, Uint8Array>();

  constructor(readonly length: number) {}

  read(off: number, out: Uint8Array): void {
    this.spans(off, out.length, (c, within, done, n) => {
      const chunk = this.chunks.get(c);
      if (chunk) out.set(chunk.subarray(within, within + n), done);
      else out.fill(0, done, done + n);
    });
  }

  write(off: number, data: Uint8Array): void {
    if (off + data.length > this.length) throw new RangeError(`write past the end of a ${this.length}-byte disk`);
    this.spans(off, data.length, (c, within, done, n) => {
      let chunk = this.chunks.get(c);
      if (!chunk) this.chunks.set(c, (chunk = new Uint8Array(SparseMemory.CHUNK)));
      chunk.set(data.subarray(done, done + n), within);
    });
  }

  /** Splits [off, off+len) at chunk boundaries: chunk index, offset in it, offset in the caller's buffer, length. */
  private spans(off: number, len: number, fn: (c: number, within: number, done: number, n: number) => void): void {
    for (let done = 0; done < len; ) {
      const at = off + done;
      const c = Math.floor(at / SparseMemory.CHUNK);
      const within = at - c * SparseMemory.CHUNK;
      const n = Math.min(len - done, SparseMemory.CHUNK - within);
      fn(c, within, done, n);
      done += n;
    }
  }
}

export class DiskImage {
  readonly sectors: number;
  private mem: SparseMemory | undefined;
  private fd: number | undefined;

  /** `path`: a file (opened read-write unless readonly), or `mem:<MiB>` for an in-memory disk. */
  constructor(readonly path: string, readonly readonly = false) {
    const m = /^mem:(\d+)$/.exec(path);
    if (m) {
      this.mem = new SparseMemory(Number(m[1]) << 20);
      this.sectors = this.mem.length / SECTOR;
      return;
    }
    this.fd = fs.openSync(path, readonly ? 'r' : 'r+');
    this.sectors = Math.floor(fs.fstatSync(this.fd).size / SECTOR);
  }

  read(sector: number, out: Uint8Array): void {
    if (this.mem) {
      // As the whole-disk array's subarray did: past the end, `out` keeps its bytes.
      const off = sector * SECTOR;
      this.mem.read(off, out.subarray(0, Math.max(0, Math.min(out.length, this.mem.length - off))));
    } else fs.readSync(this.fd!, out, 0, out.length, sector * SECTOR);
  }

  write(sector: number, data: Uint8Array): void {
    if (this.mem) this.mem.write(sector * SECTOR, data);
    else fs.writeSync(this.fd!, data, 0, data.length, sector * SECTOR);
  }

  /** fdatasync calls made (tests). */
  syncs = 0;

  /** Everything written so far reaches stable storage before this returns (fdatasync). */
  flush(): void {
    if (this.fd === undefined || this.readonly) return;
    fs.fdatasyncSync(this.fd);
    this.syncs++;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface Bio {
  /** 'flush': an empty REQ_PREFLUSH bio. */
  op: 'read' | 'write' | 'flush';
  /** REQ_PREFLUSH on a write: the cache is flushed before the data is written (a barrier). */
  preflush?: boolean;
  sector: number;
  /** read: filled at completion; write: the data. */
  data: Uint8Array;
  /** bio_endio: 0 or -errno. */
  done(err: number): void;
}

export class RequestQueue {
  stalled = false;
  private readonly inflight = new Set<Bio>();
  completed = 0;

  constructor(readonly sim: Sim, readonly latencyNs = 100_000) {}

  get inFlight(): number {
    return this.inflight.size;
  }

  /** submit_bio. */
  submit(disk: DiskImage, bio: Bio): void {
    this.inflight.add(bio);
    if (!this.stalled) this.schedule(disk, bio);
    else this.parked.push([disk, bio]);
  }

  private parked: Array<[DiskImage, Bio]> = [];

  private schedule(disk: DiskImage, bio: Bio): void {
    this.sim.clock.after(this.latencyNs, () => this.complete(disk, bio), 'disk: bio completion');
  }

  private complete(disk: DiskImage, bio: Bio): void {
    if (this.stalled) {
      this.parked.push([disk, bio]);
      return;
    }
    if (!this.inflight.delete(bio)) return;
    let err = 0;
    try {
      if (bio.op === 'read') disk.read(bio.sector, bio.data);
      else if (bio.op === 'flush') disk.flush();
      else if (disk.readonly) err = -30;
      else {
        if (bio.preflush) disk.flush();
        disk.write(bio.sector, bio.data);
      }
    } catch {
      err = -5;
    }
    this.completed++;
    bio.done(err);
  }

  /** The backing store stops answering. */
  stall(): void {
    this.stalled = true;
  }

  /** The backing store comes back: every parked bio completes. */
  resume(): void {
    this.stalled = false;
    const p = this.parked;
    this.parked = [];
    for (const [d, b] of p) this.schedule(d, b);
  }
}
