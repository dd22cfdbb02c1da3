// An RxJS SchedulerLike on the guest's virtual clock (rxjs src/internal/types.ts:
// SchedulerLike; time never comes from the host: docs/architecture.md §3.2).
// Actions are re-schedulable (periodic operators call `this.schedule()` from
// inside `work`), ordered by (time, sequence) through the Time heap, and
// isolated: an action that throws is reported (the runtime crashes the domain
// with the message on the console) without unsubscribing the others, unlike
// VirtualTimeScheduler. `now()` is in ms, as RxJS expects.
// fromLwt/toLwt (end of file) turn the Lwt threads' promises into streams and
// back, with cancellation both ways.

import {
  EmptyError, Observable, Subscription, of, retry, throwError, timer, type MonoTypeOperatorFunction, type SchedulerAction, type SchedulerLike,
} from 'rxjs';
import * as Lwt from './lwt.ts';
import type { Time, TimerHandle } from './time.ts';

class GuestAction<T> extends Subscription implements SchedulerAction<T> {
  private timer: TimerHandle | undefined;
  private state: T | undefined;

  constructor(
    private readonly sched: GuestScheduler,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super(() => this.sched.time.cancel(this.timer));
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.state = state;
    this.sched.time.cancel(this.timer);
    this.timer = undefined;
    if (delay === Infinity) return this; // never
    const at = this.sched.time.now() + Math.max(0, delay) * 1e6;
    this.timer = this.sched.time.at(at, () => this.execute());
    return this;
  }

  private execute(): void {
    this.timer = undefined;
    if (this.closed) return;
    try {
      this.work.call(this, this.state);
    } catch (e) {
      this.unsubscribe();
      this.sched.onError(e);
      return;
    }
    // An action that did not re-schedule itself is done.
    if (this.timer === undefined) this.unsubscribe();
  }
}

export class GuestScheduler implements SchedulerLike {
  onError: (e: unknown) => void = (e) => {
    throw e;
  };

  constructor(readonly time: Time) {}

  now(): number {
    return this.time.now() / 1e6;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state: T) => void, delay?: number, state?: T): Subscription;
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    return new GuestAction<T>(this, work).schedule(state, delay ?? 0);
  }
}

// --- Lwt <-> Observable (the clients' waits as streams, and back) ---

/**
 * An Lwt as a cold Observable: each subscription calls `make()`, emits the
 * value and completes, or errors. Unsubscribing first (a `timeout`, a
 * `switchMap` moving on, `takeUntil`) cancels the promise with Lwt.cancel,
 * which reaches the request's task: the xenstore client then drops the reply.
 */
export function fromLwt<T>(make: () => Lwt.Lwt<T>): Observable<T> {
  return new Observable<T>((sub) => {
    let p: Lwt.Lwt<T>;
    try {
      p = make();
    } catch (e) {
      sub.error(e);
      return undefined;
    }
    let done = false;
    Lwt.on_any(
      p,
      (v) => {
        done = true;
        sub.next(v);
        sub.complete();
      },
      (e) => {
        done = true;
        sub.error(e);
      },
    );
    return () => {
      if (!done) Lwt.cancel(p);
    };
  });
}

/**
 * The first value of `obs` as a cancelable Lwt (a task): rejects with the
 * stream's error, or with RxJS's EmptyError if it completes empty. Cancelling
 * the promise unsubscribes. Resolved with wakeup_later: the waiting thread
 * runs from the run queue, not inside the emitting operator.
 */
export function toLwt<T>(obs: Observable<T>): Lwt.Lwt<T> {
  const [p, r] = Lwt.task<T>();
  let done = false;
  let sub: Subscription | undefined;
  const finish = (): void => {
    done = true;
    sub?.unsubscribe();
  };
  sub = obs.subscribe({
    next: (v) => {
      if (done) return;
      finish();
      Lwt.wakeup_later(r, v);
    },
    error: (e) => {
      if (done) return;
      finish();
      Lwt.wakeup_later_exn(r, e);
    },
    complete: () => {
      if (done) return;
      finish();
      Lwt.wakeup_later_exn(r, new EmptyError());
    },
  });
  if (done) sub.unsubscribe();
  else Lwt.on_cancel(p, () => sub!.unsubscribe());
  return p;
}

/** Back-off before retry `n` (1, 2, …): base·2^(n−1) ms, at most `max` ms. Deterministic: no jitter. */
export function backoffMs(n: number, base = 1, max = 32): number {
  return Math.min(max, base * 2 ** Math.min(n - 1, 30));
}

export interface RetryBackoff {
  /** Retries after the first failure (so count + 1 attempts in all). */
  count: number;
  /** Which errors are worth another attempt; the others pass through at once. */
  when: (e: unknown) => boolean;
  /** The virtual-time scheduler that paces the retries; without one they follow at once. */
  scheduler?: SchedulerLike;
  baseMs?: number;
  maxMs?: number;
}

/**
 * `retry` with exponential back-off on virtual time: resubscribe to the
 * source (each subscription is a new attempt) when it fails with an error
 * `when` accepts, after backoffMs(n) on the scheduler.
 */
export function retryBackoff<T>(o: RetryBackoff): MonoTypeOperatorFunction<T> {
  return retry<T>({
    count: o.count,
    delay: (e: unknown, n: number) => {
      if (!o.when(e)) return throwError(() => e);
      return o.scheduler ? timer(backoffMs(n, o.baseMs, o.maxMs), o.scheduler) : of(0);
    },
  });
}
