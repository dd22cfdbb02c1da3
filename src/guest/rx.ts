// An RxJS SchedulerLike on the guest's virtual clock (rxjs src/internal/types.ts:
// SchedulerLike; time never comes from the host: docs/architecture.md §3.2).
// Actions are re-schedulable (periodic operators call `this.schedule()` from
// inside `work`), ordered by (time, sequence) through the Time heap, and
// isolated: an action that throws is reported (the runtime crashes the domain
// with the message on the console) without unsubscribing the others, unlike
// VirtualTimeScheduler. `now()` is in ms, as RxJS expects.

import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
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
