// Frame buffers carved out of shared slabs (Mirage's Io_page / Cstruct
// pools do the same): a `new Uint8Array(98)` is too large for V8's on-heap
// typed arrays, so each one would get its own zeroed backing store and count
// as external memory, which made buffer allocation a top cost of a ping -f
// round trip. A view into a slab is an ordinary small object.
//
// A view is zeroed (each byte of a fresh slab is handed out once) and never
// reused: a slab lives while any view into it does, so holding one frame
// keeps its SLAB_BYTES alive; callers hold frames only in bounded queues.
// Views share their ArrayBuffer: read them through the view (b[i], set,
// subarray), never through `b.buffer` without `b.byteOffset`.
//
// Pure code with no imports: dom0 and the guest runtime both use it.

export const SLAB_BYTES = 64 * 1024;
/**
 * The first slab's size; each next one is twice the last, up to SLAB_BYTES.
 * Most owners (a guest's netfront, a short explore schedule) carve a handful
 * of frames in their life: a full slab each, zeroed and counted as external
 * memory, was the guest runtime's costliest allocation per schedule.
 */
export const FIRST_SLAB_BYTES = 4 * 1024;

export class Slab {
  private buf = new ArrayBuffer(0);
  private off = 0;

  /** A zeroed view of `n` bytes (its own buffer past a quarter slab). */
  alloc(n: number): Uint8Array {
    if (n > SLAB_BYTES / 4) return new Uint8Array(n);
    if (this.off + n > this.buf.byteLength) {
      let size = Math.min(SLAB_BYTES, Math.max(FIRST_SLAB_BYTES, this.buf.byteLength * 2));
      while (size < n) size *= 2;
      this.buf = new ArrayBuffer(size);
      this.off = 0;
    }
    const v = new Uint8Array(this.buf, this.off, n);
    // 8-byte aligned, so a DataView or wider view over a frame stays aligned.
    this.off += (n + 7) & ~7;
    return v;
  }
}
