// A domain's guest-physical memory: nrFrames 4 KiB frames, indexed by gpfn.
//
// Frames are allocated on first touch: a 2 GiB dom0 or a 256 MiB domU costs
// nothing until its pages are used. A gpfn can be *remapped* to another buffer
// (XENMEM_add_to_physmap of shared_info or a grant-table frame, a grant mapped
// at host_addr): the guest then sees that buffer at the gpfn, exactly like a
// p2m update. The original frame is kept so an unmap can put it back.
//
// Guest pointers are guest-physical addresses. Every access is bounds-checked
// and returns a failure instead of throwing: a guest passing garbage must get
// -EFAULT, never crash the host.
import { PAGE_SIZE } from '../abi/xen.ts';

export class Physmap {
  private readonly frames: (ArrayBuffer | undefined)[] = [];
  private readonly views: (DataView | undefined)[] = [];
  /** Frames displaced by a remap, to restore on unmap. */
  private readonly displaced = new Map<number, ArrayBuffer | undefined>();
  /** Scratch for structs that cross a frame boundary (hypercall args are <= 64 bytes). */
  private readonly scratch = new DataView(new ArrayBuffer(64));

  constructor(readonly nrFrames: number) {}

  validGpfn(gpfn: number): boolean {
    return Number.isSafeInteger(gpfn) && gpfn >= 0 && gpfn < this.nrFrames;
  }

  /** The buffer the guest sees at gpfn (allocated on first touch). Throws RangeError on a bad gpfn. */
  frame(gpfn: number): ArrayBuffer {
    if (!this.validGpfn(gpfn)) throw new RangeError(`gpfn ${String(gpfn)} out of range (0..${this.nrFrames - 1})`);
    let f = this.frames[gpfn];
    if (!f) {
      f = new ArrayBuffer(PAGE_SIZE);
      this.frames[gpfn] = f;
    }
    return f;
  }

  view(gpfn: number): DataView {
    let v = this.views[gpfn];
    if (!v) {
      v = new DataView(this.frame(gpfn));
      this.views[gpfn] = v;
    }
    return v;
  }

  /** Make `buf` appear at gpfn (p2m update). */
  remap(gpfn: number, buf: ArrayBuffer): void {
    if (!this.displaced.has(gpfn)) this.displaced.set(gpfn, this.frames[gpfn]);
    this.frames[gpfn] = buf;
    this.views[gpfn] = undefined;
  }

  /** Undo remap(): the original frame comes back. */
  restore(gpfn: number): void {
    if (!this.displaced.has(gpfn)) return;
    this.frames[gpfn] = this.displaced.get(gpfn);
    this.displaced.delete(gpfn);
    this.views[gpfn] = undefined;
  }

  /** Is [gpa, gpa+len) inside guest memory? */
  validRange(gpa: number, len: number): boolean {
    return Number.isSafeInteger(gpa) && gpa >= 0 && len >= 0 && gpa + len <= this.nrFrames * PAGE_SIZE;
  }

  /**
   * Run `fn` on a DataView holding the struct at [gpa, gpa+len). Within one
   * frame the frame's own view is used (no copy, no allocation: the hot
   * EVTCHNOP_send path); across a boundary the bytes are copied into scratch
   * and back. Returns `fault` if the range is bad.
   */
  withStruct(gpa: number, len: number, fault: number, fn: (dv: DataView, off: number) => number): number {
    if (!this.validRange(gpa, len) || len > 64) return fault;
    const gpfn = Math.floor(gpa / PAGE_SIZE);
    const off = gpa - gpfn * PAGE_SIZE;
    if (off + len <= PAGE_SIZE) return fn(this.view(gpfn), off);
    const s = new Uint8Array(this.scratch.buffer, 0, len);
    this.read(gpa, s);
    const rc = fn(this.scratch, 0);
    this.write(gpa, s);
    return rc;
  }

  /** The u32 at gpa (little-endian), or -1 if out of range. No allocation: the EVTCHNOP_send path. */
  readU32(gpa: number): number {
    if (!this.validRange(gpa, 4)) return -1;
    const gpfn = Math.floor(gpa / PAGE_SIZE);
    const off = gpa - gpfn * PAGE_SIZE;
    if (off + 4 <= PAGE_SIZE) return this.view(gpfn).getUint32(off, true);
    let x = 0;
    for (let i = 3; i >= 0; i--) x = x * 256 + this.view(Math.floor((gpa + i) / PAGE_SIZE)).getUint8((gpa + i) % PAGE_SIZE);
    return x;
  }

  /** Copy guest memory into `out` (caller checked the range). */
  read(gpa: number, out: Uint8Array): void {
    this.eachChunk(gpa, out.length, (frame, off, n, done) => out.set(new Uint8Array(frame, off, n), done));
  }

  /** Copy `src` into guest memory (caller checked the range). */
  write(gpa: number, src: Uint8Array): void {
    this.eachChunk(gpa, src.length, (frame, off, n, done) => new Uint8Array(frame, off, n).set(src.subarray(done, done + n)));
  }

  /** Walk [gpa, gpa + len) one frame at a time: the range may cross frames that are not contiguous buffers. */
  private eachChunk(gpa: number, len: number, fn: (frame: ArrayBuffer, off: number, n: number, done: number) => void): void {
    let done = 0;
    while (done < len) {
      const a = gpa + done;
      const gpfn = Math.floor(a / PAGE_SIZE);
      const off = a - gpfn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - done);
      fn(this.frame(gpfn), off, n, done);
      done += n;
    }
  }
}
