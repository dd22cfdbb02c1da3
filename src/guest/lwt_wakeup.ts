// Resolvers and the wakeups, and pause (lwt.mli "Resolving", "Pausing"):
// wait/task make a pending promise and its resolver; wakeup resolves and runs
// the callbacks at once, wakeup_later resolves at once and queues them
// (lwt_queue.ts); pause waits for the main loop's next wakeup_paused.

import { CANCEL_THIS, FULFILLED, Lwt, PENDING, REJECTED, enqueueCb, isCanceled, reset_core, resolve, type Resolver } from './lwt_core.ts';
import { reset_queue } from './lwt_queue.ts';

/** Promises paused by `pause()`, woken by `wakeup_paused()` (the main loop's thread only). */
let paused: Array<Lwt<void>> = [];

/** A pending promise and its resolver. Not cancelable: `cancel` leaves it pending (Lwt.wait). */
export function wait<T>(): [Lwt<T>, Resolver<T>] {
  const p = new Lwt<T>();
  return [p, { promise: p }];
}

/** Like wait, but `cancel` rejects the promise with Canceled (Lwt.task; most I/O promises are tasks). */
export function task<T>(): [Lwt<T>, Resolver<T>] {
  const p = new Lwt<T>();
  p.k = CANCEL_THIS;
  return [p, { promise: p }];
}

/** @internal A cancelable pending promise that is its own resolver (Activations: one allocation per wait). */
export function task_promise<T>(): Lwt<T> {
  const p = new Lwt<T>();
  p.k = CANCEL_THIS;
  return p;
}

/** Lwt's wakeup_general: a canceled promise ignores the wakeup; a resolved one is an error. */
function wakeupGeneral(name: string, p: Lwt<any>, st: number, v: unknown, later: boolean): void {
  const r = p.repr();
  if (r.st !== PENDING) {
    if (isCanceled(r.st, r.v)) return;
    throw new Error(`Lwt.${name}: promise already resolved`);
  }
  resolve(r, st, v, later);
}

/**
 * Fulfil now and run the callbacks now, deeper on the current stack (Lwt.wakeup).
 * No effect on a canceled promise; throws if the promise is already resolved.
 */
export function wakeup<T>(r: Resolver<T>, v: T): void {
  wakeupGeneral('wakeup', r.promise, FULFILLED, v, false);
}

/** Reject now, callbacks now (Lwt.wakeup_exn). */
export function wakeup_exn(r: Resolver<any>, e: unknown): void {
  wakeupGeneral('wakeup_exn', r.promise, REJECTED, e, false);
}

/** Fulfil now; the callbacks run from the run queue, before the main loop blocks (Lwt.wakeup_later). */
export function wakeup_later<T>(r: Resolver<T>, v: T): void {
  wakeupGeneral('wakeup_later', r.promise, FULFILLED, v, true);
}

/** Reject now, callbacks queued (Lwt.wakeup_later_exn). */
export function wakeup_later_exn(r: Resolver<any>, e: unknown): void {
  wakeupGeneral('wakeup_later_exn', r.promise, REJECTED, e, true);
}

/** @internal wakeup_later on a promise made by task_promise() (the interrupt path: Activations.run). */
export function wakeup_later_task<T>(p: Lwt<T>, v: T): void {
  if (p.st !== PENDING || p.oc !== undefined || p.cbs !== undefined) {
    wakeupGeneral('wakeup_later', p, FULFILLED, v, true);
    return;
  }
  // The usual case, written out: one waiter (a bind), no on_cancel.
  p.st = FULFILLED;
  p.v = v;
  p.k = undefined;
  const cb = p.cb;
  if (cb === undefined) return;
  p.cb = undefined;
  enqueueCb(cb, p);
}

/**
 * A promise resolved at the next main-loop iteration (Lwt.pause). Cancelable;
 * a canceled one still counts in paused_count until the next wakeup_paused,
 * as in lwt.ml.
 */
export function pause(): Lwt<void> {
  const p = task_promise<void>();
  paused.push(p);
  return p;
}

export function paused_count(): number {
  return paused.length;
}

/** Wake every promise paused so far, callbacks at once (Lwt.wakeup_paused); those they pause wait for the next call. */
export function wakeup_paused(): void {
  if (paused.length === 0) return;
  const now = paused;
  paused = [];
  for (const p of now) wakeupGeneral('wakeup', p, FULFILLED, undefined, false);
}

/** Forget all state (tests only: one realm per kernel makes this unnecessary in guests). */
export function reset(): void {
  reset_queue();
  reset_core();
  paused = [];
}
