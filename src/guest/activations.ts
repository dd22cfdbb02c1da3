// Activations (mirage-xen lib/activations.ml): event channel -> Lwt wakeups.
//
// `after(port, counter)` is lossless: it resolves as soon as the port's event
// counter is greater than `counter` (at once if it already is), with the new
// counter. `wait(port)` is lossy: an event that came while nobody waited is
// lost. Drivers (xenstore, rings) use `after` and consume producer indices:
// notifications coalesce, so events are never counted as messages.

import { EVTCHN_2L_NR_CHANNELS } from '../abi/xen.ts';
import type { Evtchn } from './evtchn.ts';
import { Lwt, return_, wait as lwtWait, wakeup_later, type Resolver } from './lwt.ts';

/** The counter value before any event (`Activations.program_start`). */
export const program_start = 0;

export class Activations {
  private readonly counters = new Float64Array(EVTCHN_2L_NR_CHANNELS);
  private readonly afters: Array<Array<{ counter: number; r: Resolver<number> }> | undefined> = [];
  private readonly waiters: Array<Resolver<void>[] | undefined> = [];

  constructor(readonly evtchn: Evtchn) {}

  counter(port: number): number {
    return this.counters[port]!;
  }

  /** Resolves with the port's counter once it exceeds `counter`. */
  after(port: number, counter: number): Lwt<number> {
    const c = this.counters[port]!;
    if (c > counter) return return_(c);
    const [p, r] = lwtWait<number>();
    (this.afters[port] ??= []).push({ counter, r });
    return p;
  }

  /** Lossy: resolves at the next event on `port`. */
  wait(port: number): Lwt<void> {
    const [p, r] = lwtWait<void>();
    (this.waiters[port] ??= []).push(r);
    return p;
  }

  /** Wake everything waiting on ports the last demux found. Returns the number of ports. */
  run(): number {
    const ports = this.evtchn.take_found();
    let n = 0;
    for (const port of ports) {
      if (!this.evtchn.test_and_clear(port)) continue;
      n++;
      const ws = this.waiters[port];
      if (ws && ws.length > 0) {
        this.waiters[port] = undefined;
        for (const r of ws) wakeup_later(r, undefined);
      }
      const c = ++this.counters[port]!;
      const as = this.afters[port];
      if (as && as.length > 0) {
        const keep = as.filter((a) => c <= a.counter);
        this.afters[port] = keep.length > 0 ? keep : undefined;
        for (const a of as) if (c > a.counter) wakeup_later(a.r, c);
      }
    }
    return n;
  }
}
