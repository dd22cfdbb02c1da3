// Activations (mirage-xen lib/activations.ml): event channel -> Lwt wakeups.
//
// `after(port, counter)` is lossless: it resolves as soon as the port's event
// counter is greater than `counter` (at once if it already is), with the new
// counter. `wait(port)` is lossy: an event that came while nobody waited is
// lost. Drivers (xenstore, rings) use `after` and consume producer indices:
// notifications coalesce, so events are never counted as messages.

import { EVTCHN_2L_NR_CHANNELS } from '../abi/xen.ts';
import type { Evtchn } from './evtchn.ts';
import { Lwt, is_pending, return_, task_promise, wait as lwtWait, wakeup_later, wakeup_later_task, type Resolver } from './lwt.ts';

/** The counter value before any event (`Activations.program_start`). */
export const program_start = 0;

export class Activations {
  /** Event counter per port; grown on demand (ports are allocated lowest-free: no 4096-entry arrays at boot). */
  private counters = new Float64Array(64);
  /**
   * Per port, the `after` waiters as pairs (counter, promise) in arrival
   * order; afterN[port] slots are in use. The arrays never shrink: a wait and
   * its wakeup allocate only the promise.
   */
  private readonly afters: Array<any[] | undefined> = [];
  private afterN = new Uint32Array(64);
  private readonly waiters: Array<Resolver<void>[] | undefined> = [];
  /** The other half of the found-ports double buffer (see run). */
  private spare: number[] = [];

  constructor(readonly evtchn: Evtchn) {}

  counter(port: number): number {
    return this.counters[port] ?? 0;
  }

  /** Make room for `port` in the per-port arrays. */
  private grow(port: number): void {
    let n = this.counters.length;
    while (n <= port) n *= 2;
    n = Math.min(n, EVTCHN_2L_NR_CHANNELS);
    const c = new Float64Array(n);
    c.set(this.counters);
    this.counters = c;
    const a = new Uint32Array(n);
    a.set(this.afterN);
    this.afterN = a;
  }

  /**
   * Resolves with the port's counter once it exceeds `counter`. Cancelable
   * (Lwt.task, as mirage-xen's Lwt_condition waiters are): a canceled wait is
   * dropped at the next event, or at the next `after` on that port.
   */
  after(port: number, counter: number): Lwt<number> {
    if (port >= this.counters.length) this.grow(port);
    const c = this.counters[port]!;
    if (c > counter) return return_(c);
    const p = task_promise<number>();
    const as = (this.afters[port] ??= []);
    let n = this.afterN[port]!;
    if (n > 0) n = this.compact(as, n);
    as[n] = counter;
    as[n + 1] = p;
    this.afterN[port] = n + 2;
    return p;
  }

  /** Drop canceled waits (bounded memory when every wait is raced and lost, e.g. Lwt.pick with a stop signal). */
  private compact(as: any[], n: number): number {
    let k = 0;
    for (let j = 0; j < n; j += 2) {
      const p = as[j + 1] as Lwt<number>;
      if (!is_pending(p)) continue;
      as[k] = as[j];
      as[k + 1] = p;
      k += 2;
    }
    for (let j = k; j < n; j++) as[j] = undefined;
    return k;
  }

  /** Lossy: resolves at the next event on `port`. */
  wait(port: number): Lwt<void> {
    const [p, r] = lwtWait<void>();
    (this.waiters[port] ??= []).push(r);
    return p;
  }

  /** Wake everything waiting on ports the last demux found. Returns the number of ports. */
  run(): number {
    // Take the found list (ports a nested demux finds meanwhile go to the other buffer, for the next run).
    const ev = this.evtchn;
    const ports = ev.found;
    const nports = ev.nfound;
    ev.found = this.spare;
    ev.nfound = 0;
    let n = 0;
    for (let i = 0; i < nports; i++) {
      const port = ports[i]!;
      if (!ev.test_and_clear(port)) continue;
      if (port >= this.counters.length) this.grow(port);
      n++;
      const ws = this.waiters[port];
      if (ws && ws.length > 0) {
        this.waiters[port] = undefined;
        for (const r of ws) wakeup_later(r, undefined);
      }
      const c = ++this.counters[port]!;
      const na = this.afterN[port]!;
      if (na > 0) {
        // Wake, in arrival order, those waiting for less than c; keep the others in order.
        const as = this.afters[port]!;
        let k = 0;
        for (let j = 0; j < na; j += 2) {
          const want = as[j] as number;
          const p = as[j + 1] as Lwt<number>;
          if (c > want) wakeup_later_task(p, c);
          else {
            as[k] = want;
            as[k + 1] = p;
            k += 2;
          }
        }
        for (let j = k; j < na; j++) as[j] = undefined;
        this.afterN[port] = k;
      }
    }
    this.spare = ports;
    return n;
  }
}
