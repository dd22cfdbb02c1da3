// Virtual clock in nanoseconds (a `number`: 2^53 ns is about 104 days, far
// beyond any scenario). Time never moves by itself: the simulator advances it
// to the next deadline only when nothing is runnable (docs/architecture.md §3.2).
//
// Timers are kept in a DeadlineHeap ordered by (deadline, sequence number), so
// equal deadlines fire in the order they were set.

import { DeadlineHeap } from '../lib/deadline_heap.ts';

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
  private readonly heap = new DeadlineHeap<Timer>();
  private seq = 0;
  private live = 0;

  /** Run `fn` at absolute time `at` (clamped to now). */
  at(at: number, fn: () => void, label = 'timer'): Timer {
    const t: Timer = { at: Math.max(at, this.now), seq: this.seq++, label, cancelled: false, fn };
    this.heap.push(t);
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
    return this.heap.peek()?.at;
  }

  /** Fire every armed timer due at or before now, in (deadline, seq) order. */
  fireDue(): number {
    let n = 0;
    for (;;) {
      const top = this.heap.peek();
      if (!top || top.at > this.now) return n;
      this.heap.pop();
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
}

export const NS = { us: 1_000, ms: 1_000_000, s: 1_000_000_000 } as const;
