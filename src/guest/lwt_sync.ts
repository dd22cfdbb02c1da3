// Lwt_condition and Lwt_mvar (ocsigen/lwt src/core/lwt_condition.ml,
// lwt_mvar.ml) on the promises of lwt.ts.

import { return_, return_unit, type Lwt, type Resolver } from './lwt_core.ts';
import { task, wait, wakeup_later } from './lwt_wakeup.ts';
import { on_cancel } from './lwt_race.ts';

/**
 * Lwt_condition: lossy; wait() blocks until the next signal/broadcast. A
 * waiter is a task (lwt_condition.ml: Lwt.add_task_r): cancelling it removes
 * it, so signal() wakes the next live waiter.
 */
export class Condition<T = void> {
  private waiters: Resolver<T>[] = [];
  wait(): Lwt<T> {
    const [p, r] = task<T>();
    this.waiters.push(r);
    on_cancel(p, () => {
      const i = this.waiters.indexOf(r);
      if (i >= 0) this.waiters.splice(i, 1);
    });
    return p;
  }
  signal(v: T): void {
    const r = this.waiters.shift();
    if (r) wakeup_later(r, v);
  }
  broadcast(v: T): void {
    const ws = this.waiters;
    if (ws.length === 0) return;
    this.waiters = [];
    for (const r of ws) wakeup_later(r, v);
  }
  get waiting(): number {
    return this.waiters.length;
  }
}

/** Lwt_mvar: a one-slot mailbox with FIFO readers and writers. */
export class MVar<T> {
  private full = false;
  private v: T | undefined;
  private readers: Resolver<T>[] = [];
  private writers: Array<{ v: T; r: Resolver<void> }> = [];
  constructor(...init: [] | [T]) {
    if (init.length === 1) {
      this.full = true;
      this.v = init[0];
    }
  }
  put(v: T): Lwt<void> {
    if (!this.full) {
      const rd = this.readers.shift();
      if (rd) wakeup_later(rd, v);
      else {
        this.full = true;
        this.v = v;
      }
      return return_unit;
    }
    const [p, r] = wait<void>();
    this.writers.push({ v, r });
    return p;
  }
  take(): Lwt<T> {
    if (this.full) {
      const v = this.v as T;
      const w = this.writers.shift();
      if (w) {
        this.v = w.v;
        wakeup_later(w.r, undefined);
      } else {
        this.full = false;
        this.v = undefined;
      }
      return return_(v);
    }
    const [p, r] = wait<T>();
    this.readers.push(r);
    return p;
  }
  is_empty(): boolean {
    return !this.full;
  }
}
