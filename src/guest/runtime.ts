// The runtime's core (mirage-xen's names: Main, Time, Eventchn, Activations,
// Lwt, Console, plus an RxJS scheduler on the virtual clock), documented here
// and exported to kernels by index.ts (`xenode/guest`). The drivers (xs.ts,
// netfront.ts, blkfront.ts, gnttab.ts) import this file, not index.ts, so the
// public entry can re-export them without an import cycle.
//
// A kernel registers its main function with `kernel(main)`; the loader then
// calls `__xenode_kernel.start(doors, startInfoPaddr)` for vCPU 0 and gets
// the GuestEntry back.

import type { GuestDoors, GuestEntry } from '../abi/doors.ts';
import { config } from 'rxjs';
import { fmt } from './console.ts';
import * as LwtM from './lwt.ts';
import { GuestExit, MainLoop } from './main.ts';
import { GuestScheduler } from './rx.ts';
import { startOfDay, type Platform } from './start.ts';
import type { TimerHandle } from './time.ts';

export * as Lwt from './lwt.ts';
export type { Lwt as LwtT } from './lwt.ts';
export { buildVariant, type Variant } from '../abi/variant.ts';
export { program_start } from './activations.ts';

let pf: Platform | undefined;
let mainLoop: MainLoop | undefined;
let sched: GuestScheduler | undefined;

function P(): Platform {
  if (!pf) throw new Error('xenode runtime: not started');
  return pf;
}

/**
 * A kernel's main function: its result (a number, an Lwt or a Promise of one)
 * is the exit code once it resolves (0 or nothing = poweroff). A throw or a
 * rejection crashes the domain with `Fatal error: <stack>` on the console.
 */
export type KernelMain = () => LwtM.Lwt<number | void> | PromiseLike<number | void> | number | void;

/** The running kernel (mirage-xen's Main). */
export const Main = {
  /** The current platform (start of day results). Throws if the runtime has not started (outside kernel()). */
  get platform(): Platform {
    return P();
  },
  /**
   * Shut down now: 0 = poweroff, anything else prints `solo5_exit(code)` and
   * crashes the domain (Solo5's exit). Never returns: it unwinds the kernel.
   */
  exit(code = 0): never {
    mainLoop!.main = LwtM.return_(code);
    mainLoop!.exitCode = code;
    return mainLoop!.die(code === 0 ? 0 : 3, code === 0 ? undefined : `Solo5: solo5_exit(${code}) called`);
  },
};

/** Virtual time (mirage-xen's Time / OS.Time): the simulator's clock, never the host's. */
export const Time = {
  /** Xen system time in ns since the domain's boot (vcpu_time_info). */
  now_ns: (): number => P().time.now(),
  /** Wall clock in ns since the epoch (shared_info's wc_sec/wc_nsec + system time). */
  wall_ns: (): number => P().time.wallNs(),
  /**
   * Resolves after `ns` of virtual time (negative = 0). Waits on the runtime's
   * timer heap: the vCPU blocks (SCHEDOP_block with set_timer_op) until then.
   * Never rejects; a sleeper nobody awaits still fires, to no effect.
   */
  sleep_ns: (ns: number): LwtM.Lwt<void> => P().time.sleep_ns(ns),
};

/** The PV console (Solo5 console.c: the ring of HVM_PARAM_CONSOLE_PFN, else console_io). */
export const Console = {
  /** One line: the arguments formatted like console.log (Errors with their stack). Buffered; flushed at a newline. */
  log: (...args: unknown[]): void => P().console.log(...args),
  /** Raw text, no newline added. */
  write: (s: string): void => P().console.write(s),
};

/**
 * Event channels (mirage-xen's Eventchn). Each call is one EVTCHNOP hypercall;
 * each throws HypercallError (rc = -errno, e.g. -22 EINVAL for a bad port)
 * and, uncaught, crashes the domain with `Fatal error: …`, as eventchn.mli
 * says ("On error it will throw a Failure exception"). None of them waits.
 */
export const Eventchn = {
  /** EVTCHNOP_alloc_unbound: a fresh port that domain `remoteDom` may bind. */
  alloc_unbound: (remoteDom: number): number => P().hyper.allocUnbound(remoteDom),
  /** EVTCHNOP_bind_interdomain: connect to `remotePort` of `remoteDom`; the new local port starts pending. */
  bind_interdomain: (remoteDom: number, remotePort: number): number => P().hyper.bindInterdomain(remoteDom, remotePort),
  /** EVTCHNOP_bind_virq on vCPU 0 (VIRQ_TIMER, VIRQ_DEBUG…). */
  bind_virq: (virq: number): number => P().hyper.bindVirq(virq, 0),
  /** EVTCHNOP_send: notify the other end (events coalesce: the peer sees one or more). */
  notify: (port: number): void => void P().hyper.portOp('send', port),
  /** Clear the port's mask (evtchn_2l_unmask order: clear, then re-raise a pending event through EVTCHNOP_unmask). */
  unmask: (port: number): void => P().evtchn.unmask(port),
  /** EVTCHNOP_close. */
  close: (port: number): void => void P().hyper.portOp('close', port),
};

/**
 * Waiting for events (mirage-xen's Activations). Each port has an event
 * counter, starting at `program_start` (0), bumped by every delivery.
 */
export const Activations = {
  /**
   * Resolves with the port's new counter once it exceeds `counter` (at once if
   * it already does). Lossless: an event that arrives while nobody waits still
   * advances the counter, so the next `after` sees it. Counters are doubles,
   * exact to 2^53 events. Never rejects.
   */
  after: (port: number, counter: number): LwtM.Lwt<number> => P().activations.after(port, counter),
  /**
   * Resolves at the port's next event. Lossy: an event that came before the
   * call is not seen (use `after` with a counter read earlier instead).
   */
  wait: (port: number): LwtM.Lwt<void> => P().activations.wait(port),
  /** The port's counter now (read it *before* checking shared state, then `after` it). */
  counter: (port: number): number => P().activations.counter(port),
};

/**
 * The RxJS scheduler on the guest's virtual clock: pass it to `interval`,
 * `timer`, `delay`… (`interval(1e3, scheduler())`: RxJS's unit is ms of
 * virtual time). An error that reaches it uncaught crashes the domain.
 */
export function scheduler(): GuestScheduler {
  return (sched ??= makeScheduler());
}

function makeScheduler(): GuestScheduler {
  const s = new GuestScheduler(P().time);
  s.onError = (e) => mainLoop!.crash(e);
  return s;
}

/** The kernel's own memory (frames by gpfn; free frames from LAYOUT.FIRST_FREE_GPFN). */
export const Memory = {
  /** The frame at `gpfn` (4 KiB, shared with whoever maps or grants it). Throws RangeError beyond the domain's memory. */
  frame: (gpfn: number): ArrayBuffer => P().doors.frame(gpfn),
  /** A shared-memory access that matters for races (a choice point). */
  point: (label: string): void => P().doors.point(label),
};

/** Command line of the domain (`key=value` pairs in `args`). */
export const Cmdline = {
  /** The whole command line (hvm_start_info.cmdline_paddr). */
  get raw(): string {
    return P().cmdline;
  },
  /** Its `key=value` words; a bare word is `key: ''`. */
  get args(): Record<string, string> {
    return P().args;
  },
};

function installGlobals(): void {
  const g = globalThis as any;
  const timers = new Map<number, TimerHandle>();
  let nextId = 1;
  const p = P();
  g.__xenode_timers = {
    set(fn: (...a: unknown[]) => void, ms: number, periodic: boolean, args: unknown[]): number {
      const id = nextId++;
      const period = Math.max(0, Number(ms) || 0) * 1e6;
      const arm = (at: number) => {
        timers.set(
          id,
          p.time.at(at, () => {
            if (periodic) arm(at + Math.max(period, 1));
            else timers.delete(id);
            fn(...args);
          }),
        );
      };
      arm(p.time.now() + period);
      return id;
    },
    clear(id: number): void {
      p.time.cancel(timers.get(id));
      timers.delete(id);
    },
  };
  g.console = {
    log: (...a: unknown[]) => p.console.log(...a),
    info: (...a: unknown[]) => p.console.log(...a),
    warn: (...a: unknown[]) => p.console.log(...a),
    error: (...a: unknown[]) => p.console.log(...a),
    debug: (...a: unknown[]) => p.console.log(...a),
  };
  // RxJS reports unhandled errors (through our setTimeout shim) here: crash loudly.
  config.onUnhandledError = (e) => mainLoop!.crash(e);
  p.time.onError = (e) => mainLoop!.crash(e);
}

/**
 * Register the kernel's main function (call once, at the top level of the
 * kernel's file). `main` runs on vCPU 0 after the start of day (shared_info,
 * the upcall vector, the console, xenstore's ring parameters) with
 * interrupts on; see KernelMain for what its result becomes.
 */
export function kernel(main: KernelMain): void {
  (globalThis as any).__xenode_native = LwtM.native;
  (globalThis as any).__xenode_kernel = {
    start(doors: GuestDoors, startInfoPaddr: number): GuestEntry {
      if (doors.vcpuId !== 0) {
        // Secondary vCPUs are not brought up by this runtime.
        return { resume: () => { doors.cli(); doors.hlt(); }, interrupt: () => doors.eoi() };
      }
      let entry: GuestEntry | undefined;
      const boot = () => {
        pf = startOfDay(doors, startInfoPaddr);
        mainLoop = new MainLoop(pf);
        installGlobals();
        entry = mainLoop.entry(() => {
          doors.sti();
          let r: ReturnType<KernelMain>;
          try {
            r = main();
          } catch (e) {
            r = LwtM.fail(e);
          }
          mainLoop!.main = LwtM.bind(
            r instanceof LwtM.Lwt ? r : r !== null && typeof r === 'object' && 'then' in r ? LwtM.of_promise(r) : LwtM.return_(r),
            (v) => LwtM.return_(typeof v === 'number' ? v : 0),
          );
        });
      };
      const self: GuestEntry = {
        resume: () => {
          if (!entry) {
            try {
              boot();
            } catch (e) {
              if (e instanceof GuestExit) return;
              throw e;
            }
          }
          // Booted: from now on the loader calls the main loop's entry directly (one call layer less per wakeup).
          self.resume = entry!.resume;
          self.interrupt = entry!.interrupt;
          entry!.resume();
        },
        interrupt: (v: number) => {
          if (entry) entry.interrupt(v);
          else doors.eoi();
        },
      };
      return self;
    },
  };
}

export { fmt };
