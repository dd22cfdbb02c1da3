// Main.run: the mirage-xen main loop (lib/main.ml, docs/architecture.md §4.8) as a step
// function for the doors.ts execution model. Each iteration:
//   1. wake paused threads, fire due timers, run the Lwt queue (and the realm's
//      microtasks when an `await` may be waiting); if the main promise is
//      resolved, shut down;
//   2. if demux_pending() found ports: Activations.run, loop;
//   3. else deadline = 0 if threads are paused, else the next sleeper, else
//      now + 1 day; block: `cli; if upcall_pending { sti } else
//      { set_timer_op(deadline); sti; hlt }`.
// `resume()` runs the loop until hlt() returns true (the vCPU is halted: we
// return to the hypervisor), or the domain shut down.

import type { GuestEntry } from '../abi/doors.ts';
import { SHUTDOWN } from '../abi/xen.ts';
import { fmt } from './console.ts';
import * as Lwt from './lwt.ts';
import type { Platform } from './start.ts';

const DAY_NS = 86_400 * 1e9;

/** Thrown to unwind the guest after SCHEDOP_shutdown; never an error. */
export class GuestExit extends Error {
  readonly __xenodeExit = true;
  constructor(readonly reason: number) {
    super('domain shut down');
  }
}

declare const __xenode_drain: (() => void) | undefined;
function drainRealm(): void {
  if (typeof __xenode_drain === 'function') __xenode_drain();
}

export class MainLoop {
  dead = false;
  exitCode: number | undefined;
  main: Lwt.Lwt<number> | undefined;
  iterations = 0;
  /** The set_timer_op deadline armed and not yet seen firing (-1: none). */
  armed = -1;

  constructor(readonly pf: Platform) {}

  /** Print, shut down with `reason`, and unwind. */
  die(reason: number, msg?: string): never {
    if (msg !== undefined) this.pf.console.write(msg.endsWith('\n') ? msg : msg + '\n');
    this.pf.console.flush(true);
    this.dead = true;
    this.pf.hyper.shutdown(reason);
    throw new GuestExit(reason);
  }

  crash(e: unknown): never {
    this.die(SHUTDOWN.crash, `Fatal error: ${fmt(e)}`);
  }

  /** Run the Lwt queue and, when needed, the realm's microtasks, until both are quiet. */
  private settle(): void {
    for (let i = 0; ; i++) {
      Lwt.run_queue();
      if (!Lwt.native.dirty) return;
      Lwt.native.dirty = false;
      drainRealm();
    }
  }

  private finished(): boolean {
    const m = this.main;
    if (!m || Lwt.is_pending(m)) return false;
    if (m.state() === 'rejected') {
      try {
        m.value();
      } catch (e) {
        this.crash(e);
      }
    }
    const code = m.value();
    this.exitCode = typeof code === 'number' ? code : 0;
    this.pf.console.flush();
    if (this.exitCode === 0) this.die(SHUTDOWN.poweroff);
    this.die(SHUTDOWN.crash, `Solo5: solo5_exit(${this.exitCode}) called`);
  }

  /** Continue the loop until the vCPU halts (returns) or the domain shuts down (GuestExit). */
  loop(): void {
    const { evtchn, activations, time } = this.pf;
    for (;;) {
      this.iterations++;
      Lwt.wakeup_paused();
      const next = time.next_deadline();
      if (next !== undefined && next <= time.now()) time.restart_threads(time.now());
      this.settle();
      this.finished();
      if (evtchn.demux_pending()) {
        if (evtchn.shadow[this.pf.virqTimerPort]) this.armed = -1; // the one-shot timer fired
        activations.run();
        continue;
      }
      if (Lwt.native.seen) {
        // An `await` continuation may sit in the realm's microtask queue.
        drainRealm();
        if (Lwt.queue_length() > 0 || Lwt.native.dirty) continue;
      }
      if (Lwt.paused_count() > 0) continue;
      this.pf.console.pump();
      // Between the demux that found nothing and `cli` the guest runs code
      // (Mirage: Time.select_next, the clock read) with IF=1: an interrupt can
      // be taken anywhere in it. This door stands for that stretch.
      this.pf.doors.point('main: no events; compute the deadline');
      const now = time.now();
      const deadline = time.next_deadline() ?? now + DAY_NS;
      if (deadline <= now) continue;
      if (this.block(deadline)) return;
    }
  }

  /** mirage_xen_evtchn_block_domain. True: the vCPU is halted. */
  block(deadline: number): boolean {
    const { doors, evtchn, hyper } = this.pf;
    if (this.pf.variant.block === 'hlt-without-cli') {
      // Before 8bf0bff: check, then halt with IF=1 (an upcall taken between the
      // check and hlt is handled by the no-op handler and then slept through).
      doors.point('block:check upcall_pending');
      if (evtchn.upcall_pending) return false;
      hyper.setTimer(deadline);
      return doors.hlt();
    }
    doors.cli();
    doors.point('block:check upcall_pending');
    if (evtchn.upcall_pending) {
      doors.sti();
      return false;
    }
    if (deadline !== this.armed) {
      hyper.setTimer(deadline);
      this.armed = deadline;
    }
    doors.sti();
    return doors.hlt();
  }

  entry(boot: () => void): GuestEntry {
    let booted = false;
    const run = () => {
      if (!booted) {
        booted = true;
        boot();
      }
      this.loop();
    };
    // (The guard is written out here: resume is entered once per wakeup.)
    return {
      resume: () => {
        if (this.dead) return;
        try {
          run();
        } catch (e) {
          if (e instanceof GuestExit || (e as { __xenodeExit?: boolean })?.__xenodeExit) return;
          if (this.dead) return;
          try {
            this.crash(e);
          } catch {
            /* GuestExit */
          }
        }
      },
      interrupt: (vector: number) => {
        if (this.dead) {
          this.pf.doors.eoi();
          return;
        }
        this.pf.evtchn.handler(vector);
      },
    };
  }
}
