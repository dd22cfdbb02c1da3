// Time (mirage-xen lib/time.ml + Solo5 bindings/xen/time.c analogue).
//
// Monotonic clock: vcpu_info.time (version, tsc_timestamp, system_time,
// tsc_to_system_mul, tsc_shift) + rdtsc, read with the version protocol. Wall
// clock: shared_info wc_sec/wc_nsec (+ system time). Sleepers and timer
// callbacks live in one binary heap keyed by (deadline ns, sequence number):
// equal deadlines fire in the order they were set (a bare heap is unstable).

import type { GuestDoors } from '../abi/doors.ts';
import { SHARED_INFO, VCPU_INFO, VCPU_TIME_INFO } from '../abi/xen.ts';
import { Lwt, on_cancel, task, wakeup_later } from './lwt.ts';
import { DeadlineHeap } from '../lib/deadline_heap.ts';

export interface TimerHandle {
  at: number;
  seq: number;
  cancelled: boolean;
  fn: () => void;
}

export class Time {
  private readonly heap = new DeadlineHeap<TimerHandle>();
  private seq = 0;
  private dv!: DataView;
  /** shared_info as u32 words and bytes (vcpu_time_info fields are 4-byte aligned). */
  private u32!: Uint32Array;
  private i8!: Int8Array;
  private readonly ti: number;
  /** Errors thrown by timer callbacks go here (per-callback isolation). */
  onError: (e: unknown) => void = (e) => {
    throw e;
  };

  constructor(readonly doors: GuestDoors, readonly siGpfn: number, readonly vcpu = 0) {
    this.ti = SHARED_INFO.vcpu_info + vcpu * VCPU_INFO.size + VCPU_INFO.time;
    this.remap();
  }

  remap(): void {
    const buf = this.doors.frame(this.siGpfn);
    this.dv = new DataView(buf);
    this.u32 = new Uint32Array(buf);
    this.i8 = new Int8Array(buf);
  }

  /** Monotonic ns since boot. */
  now(): number {
    const u32 = this.u32;
    const w = this.ti >> 2;
    for (let tries = 0; ; tries++) {
      const v1 = u32[w + (VCPU_TIME_INFO.version >> 2)]!;
      const tscTs = u32[w + (VCPU_TIME_INFO.tsc_timestamp >> 2)]! + u32[w + (VCPU_TIME_INFO.tsc_timestamp >> 2) + 1]! * 4294967296;
      const sys = u32[w + (VCPU_TIME_INFO.system_time >> 2)]! + u32[w + (VCPU_TIME_INFO.system_time >> 2) + 1]! * 4294967296;
      const mul = u32[w + (VCPU_TIME_INFO.tsc_to_system_mul >> 2)]!;
      const shift = this.i8[this.ti + VCPU_TIME_INFO.tsc_shift]!;
      const v2 = u32[w + (VCPU_TIME_INFO.version >> 2)]!;
      if ((v1 & 1) === 0 && v1 === v2) {
        const tsc = this.doors.rdtsc();
        if (mul === 0) return tsc; // not published yet: the TSC is ns-scaled (doors.ts)
        let delta = tsc - tscTs;
        if (delta < 0) delta = 0;
        // The hypervisor publishes mul 2^31, shift 1 (ns-scaled TSC): delta itself, without the float maths.
        if (mul === 0x80000000 && shift === 1) return sys + Math.floor(delta);
        delta = shift >= 0 ? delta * 2 ** shift : delta / 2 ** -shift;
        return sys + Math.floor((delta * mul) / 4294967296);
      }
      if (tries > 100) return this.doors.rdtsc();
    }
  }

  /** Wall clock in ns since the epoch (shared_info wc_* is the wall time at system time 0). */
  wallNs(): number {
    const dv = this.dv;
    const sec = dv.getUint32(SHARED_INFO.wc_sec, true) + dv.getUint32(SHARED_INFO.wc_sec_hi, true) * 4294967296;
    const nsec = dv.getUint32(SHARED_INFO.wc_nsec, true);
    return sec * 1e9 + nsec + this.now();
  }

  /** Run `fn` at monotonic time `at` (from the main loop). */
  at(at: number, fn: () => void): TimerHandle {
    const h: TimerHandle = { at, seq: this.seq++, cancelled: false, fn };
    this.heap.push(h);
    return h;
  }

  cancel(h: TimerHandle | undefined): void {
    if (h) h.cancelled = true;
  }

  /**
   * Resolves `ns` from now. Cancelable (Lwt.task, as OS.Time.sleep_ns):
   * cancelling drops the timer. Woken with wakeup_later, like the event
   * wakeups: the sleeper runs from the run queue, so a thread that sleeps 0
   * in a loop of binds cannot keep restart_threads from returning.
   */
  sleep_ns(ns: number): Lwt<void> {
    const [p, r] = task<void>();
    const h = this.at(this.now() + Math.max(0, ns), () => wakeup_later(r, undefined));
    on_cancel(p, () => this.cancel(h));
    return p;
  }

  /** Earliest live deadline, if any. */
  next_deadline(): number | undefined {
    return this.heap.peek()?.at;
  }

  /** Fire everything due at `now` (Time.restart_threads). Returns how many fired. */
  restart_threads(now: number): number {
    let n = 0;
    for (;;) {
      const top = this.heap.peek();
      if (!top || top.at > now) return n;
      this.heap.pop();
      top.cancelled = true;
      n++;
      try {
        top.fn();
      } catch (e) {
        this.onError(e);
      }
    }
  }

  get size(): number {
    return this.heap.length;
  }
}

function u64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 4294967296;
}
