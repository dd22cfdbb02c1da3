// Virtual time that runs while the xl prompt waits for the user, and the
// hypervisor's serial console echoed at the prompt.
//
// A real host does not stop while its administrator thinks: guests boot,
// print and time out between two commands. `xenode xl` on a terminal
// therefore advances the machine's virtual time with the wall clock (every
// TICK_MS, by the wall time that passed, at most MAX_TICK_NS at once, so a
// stopped process does not come back to a day's backlog), and stops while a
// command runs: each command runs the simulation itself, synchronously, and
// the two must not interleave. Every tick is bounded in steps too, so a
// guest in a busy loop cannot freeze the prompt. `--paused` keeps the old
// frozen mode: time moves only inside commands (and `sleep`).
//
// Xen's console ring is what a serial console shows: whatever the
// hypervisor prints (debug keys, domain crashes) appears at the prompt as it
// is written, above the line being typed, as on a host's serial line.
import type { Machine } from '../machine/machine.ts';
import { LiveClock } from './live.ts';

/** How often the clock ticks (wall ms). */
export const TICK_MS = 50;
/** At most this much virtual time per tick (a suspended process resumes without a backlog). */
export const MAX_TICK_NS = 200e6;

export interface LiveTimeOptions {
  /** Wall clock in ms (performance.now). */
  now?: () => number;
  /** A failure of the emulated host inside a tick (a bug of ours): the clock stops, the prompt goes on. */
  failed?: (e: unknown) => void;
  /**
   * Where the serial console's new text goes; `typing` when it arrives while
   * the prompt waits (the line being typed must be redrawn after it), not
   * after a command (the prompt is printed next anyway).
   */
  serial: (text: string, typing: boolean) => void;
  /** A hung guest seen while the prompt waits (each summary once; time goes on for the others). */
  onHang?: (summary: string) => void;
}

export class LiveTime {
  private timer: ReturnType<typeof setInterval> | undefined;
  private last: number;
  /** Ring bytes already echoed (ConsoleRing.written at the last look). */
  private echoed: number;
  private busy = false;
  private readonly now: () => number;
  /** The slice runner shared with the live socket (bounded in steps, hangs said once, an idle host's clock moves on). */
  private readonly clock: LiveClock;

  constructor(
    private readonly host: Machine,
    private readonly o: LiveTimeOptions,
  ) {
    this.now = o.now ?? (() => performance.now());
    this.last = this.now();
    this.echoed = host.hv.conring.written;
    this.clock = new LiveClock(host, { onHang: o.onHang });
  }

  start(): void {
    if (this.timer) return;
    this.last = this.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    // The prompt's own input keeps the process alive; the clock must not.
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Run `fn` (a command) with the clock held: it drives the simulation itself. Echoes what it made Xen print. */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
      this.last = this.now();
      this.echo(false);
    }
  }

  /** Run `fn` (an attached console) with the clock running again inside a held command. */
  async release<T>(fn: () => Promise<T>): Promise<T> {
    const was = this.busy;
    this.busy = false;
    this.last = this.now();
    try {
      return await fn();
    } finally {
      this.busy = was;
    }
  }

  /** One tick: let the wall time that passed run in virtual time, then echo the serial console. */
  tick(): void {
    if (this.busy) return;
    const t = this.now();
    const ns = Math.min(Math.max(0, (t - this.last) * 1e6), MAX_TICK_NS);
    this.last = t;
    if (ns > 0) {
      try {
        this.clock.advance(ns);
      } catch (e) {
        // An exception out of a timer callback would end the process: stop the clock instead, say why.
        this.stop();
        this.o.failed?.(e);
        return;
      }
    }
    this.echo(true);
  }

  /** New bytes of Xen's console ring since the last echo (all of the ring if more was written than it holds). */
  private echo(typing: boolean): void {
    const ring = this.host.hv.conring;
    const fresh = ring.written - this.echoed;
    this.echoed = ring.written;
    if (fresh <= 0) return;
    const text = ring.read();
    this.o.serial(text.slice(Math.max(0, text.length - fresh)), typing);
  }
}
