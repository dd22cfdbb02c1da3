// A binary min-heap of deadlines ordered by (at, seq), with lazy removal of
// cancelled entries. The sequence number makes equal deadlines come out in
// the order they went in: a plain heap is unstable, and an unstable order
// would make a run depend on heap internals instead of on the seed.
//
// Pure code with no imports: the simulator's clock (host side) and the guest
// runtime's Time (bundled into every kernel) both use it.

export interface Deadline {
  readonly at: number;
  readonly seq: number;
  cancelled: boolean;
}

export class DeadlineHeap<T extends Deadline> {
  private readonly h: T[] = [];

  /** Entries held, cancelled ones not yet dropped included. */
  get length(): number {
    return this.h.length;
  }

  push(t: T): void {
    const h = this.h;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      swap(h, i, p);
      i = p;
    }
  }

  /** The earliest live entry (cancelled ones on top are dropped first). */
  peek(): T | undefined {
    const h = this.h;
    while (h.length > 0 && h[0]!.cancelled) this.pop();
    return h.length > 0 ? h[0] : undefined;
  }

  /**
   * Remove and return the top entry (live or not). Neither this nor peek
   * reads past the end of the array: in a cold realm (a guest's timer heap,
   * run a few times per second) V8 answers an out-of-bounds element load by
   * asking whether the array's prototype is the Array.prototype of any
   * realm, a walk over every realm of the host (ic.cc, IsInAnyContext): with
   * 10,000 guests that walk was the largest cost of a guest's wake-up.
   */
  pop(): T | undefined {
    const h = this.h;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        swap(h, i, m);
        i = m;
      }
    }
    return top;
  }
}

/** A temporary, not `[a, b] = [b, a]`: the destructuring allocates an array per swap (seen as GC under ping -f). */
function swap<T>(h: T[], i: number, j: number): void {
  const t = h[i]!;
  h[i] = h[j]!;
  h[j] = t;
}

function less(a: Deadline, b: Deadline): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
