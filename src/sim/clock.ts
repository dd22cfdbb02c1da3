// Virtual clock in nanoseconds (a `number`: 2^53 ns is about 104 days, far
// beyond any scenario). Time never moves by itself: the simulator advances it
// to the next deadline only when nothing is runnable (DESIGN.md principle 2).
//
// Timers are kept in a binary heap ordered by (deadline, sequence number). The
// sequence number makes equal deadlines fire in the order they were set: a
// plain heap is unstable, and an unstable order would make a run depend on heap
// internals instead of on the seed.

export interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly label: string;
  /** Set by cancel(); the heap drops cancelled timers lazily. */
  cancelled: boolean;
  readonly fn: () => void;
}

export class Clock {
  now = 0;
  private heap: Timer[] = [];
  private seq = 0;
  private live = 0;

  /** Run `fn` at absolute time `at` (clamped to now). */
  at(at: number, fn: () => void, label = 'timer'): Timer {
    const t: Timer = { at: Math.max(at, this.now), seq: this.seq++, label, cancelled: false, fn };
    this.push(t);
    this.live++;
    return t;
  }

  after(delay: number, fn: () => void, label = 'timer'): Timer {
    return this.at(this.now + Math.max(0, delay), fn, label);
  }

  cancel(t: Timer | undefined): void {
    if (t && !t.cancelled) {
      t.cancelled = true;
      this.live--;
    }
  }

  /** Number of armed (not cancelled, not fired) timers. */
  get pending(): number {
    return this.live;
  }

  /** Earliest armed deadline, or undefined when no timer is armed. */
  nextDeadline(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.at;
  }

  /** Fire every armed timer due at or before now, in (deadline, seq) order. */
  fireDue(): number {
    let n = 0;
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (!top || top.at > this.now) return n;
      this.pop();
      top.cancelled = true;
      this.live--;
      n++;
      top.fn();
    }
  }

  /** Move time forward (never backward). */
  advanceTo(t: number): void {
    if (t > this.now) this.now = t;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

export const NS = { us: 1_000, ms: 1_000_000, s: 1_000_000_000 } as const;
