// The unikernel runtime's public API (what kernels/*.ts import), with
// mirage-xen's names: Main, Time, Eventchn, Activations, Lwt, Console, plus an
// RxJS scheduler on the virtual clock. A kernel registers its main function
// with `kernel(main)`; the loader then calls `__xenode_kernel.start(doors,
// startInfoPaddr)` for vCPU 0 and gets the GuestEntry back.
//
//   import { kernel, Time, Console } from '../src/guest/index.ts';
//   kernel(async () => { Console.log('hello'); await Time.sleep_ns(1e9); return 0; });

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

export type KernelMain = () => LwtM.Lwt<number | void> | PromiseLike<number | void> | number | void;

export const Main = {
  /** The current platform (start of day results). */
  get platform(): Platform {
    return P();
  },
  /** Shut down now (0 = poweroff, else crash after printing the code). */
  exit(code = 0): never {
    mainLoop!.main = LwtM.return_(code);
    mainLoop!.exitCode = code;
    return mainLoop!.die(code === 0 ? 0 : 3, code === 0 ? undefined : `Solo5: solo5_exit(${code}) called`);
  },
};

export const Time = {
  now_ns: (): number => P().time.now(),
  wall_ns: (): number => P().time.wallNs(),
  sleep_ns: (ns: number): LwtM.Lwt<void> => P().time.sleep_ns(ns),
};

export const Console = {
  log: (...args: unknown[]): void => P().console.log(...args),
  write: (s: string): void => P().console.write(s),
};

export const Eventchn = {
  alloc_unbound: (remoteDom: number): number => P().hyper.allocUnbound(remoteDom),
  bind_interdomain: (remoteDom: number, remotePort: number): number => P().hyper.bindInterdomain(remoteDom, remotePort),
  bind_virq: (virq: number): number => P().hyper.bindVirq(virq, 0),
  notify: (port: number): void => void P().hyper.portOp('send', port),
  unmask: (port: number): void => P().evtchn.unmask(port),
  close: (port: number): void => void P().hyper.portOp('close', port),
};

export const Activations = {
  after: (port: number, counter: number): LwtM.Lwt<number> => P().activations.after(port, counter),
  wait: (port: number): LwtM.Lwt<void> => P().activations.wait(port),
  counter: (port: number): number => P().activations.counter(port),
};

/** The RxJS scheduler on the guest's virtual clock. */
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
  frame: (gpfn: number): ArrayBuffer => P().doors.frame(gpfn),
  /** A shared-memory access that matters for races (a choice point). */
  point: (label: string): void => P().doors.point(label),
};

/** Command line of the domain (`key=value` pairs in `args`). */
export const Cmdline = {
  get raw(): string {
    return P().cmdline;
  },
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

/** Register the kernel's main function. */
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
