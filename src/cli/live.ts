// A live host: the emulated machine's own xenstored served on a unix socket
// (`--xenstore-socket PATH` on `xl`, `run` and `scenario`) while its virtual
// clock follows the wall clock, so Debian's xenstore-ls / xenstore-write /
// xenstore-watch and pyxs (XENSTORED_PATH=PATH) inspect and change the host
// as it runs: a client's write fires the guests' watches over their rings, a
// guest's write fires the client's watches on the socket.
//
// Why the clock is pumped from a timer: everything in the machine is
// synchronous on virtual time (sim.run); a client's request is handled by the
// daemon when Node reads the socket, between two slices, and what it wakes
// (a guest's watch, dom0's xenbus) runs in the next slice. A slice runs at
// most MAX_STEPS tasks, so a busy guest (a ping flood) cannot starve the
// socket; its clock then falls behind the wall clock rather than the reverse.
//
// Not replayable: requests arrive when clients send them and the slices
// follow the wall clock, so a live session is not determined by its seed
// (everything before the host goes live is).
import type { Machine } from '../machine/machine.ts';
import { statSync } from 'node:fs';
import { listenUnix, socketAnswers, type SocketServer } from '../dom0/xenstored/socket.ts';

/** Wall-clock period of the pump, ms. */
export const SLICE_MS = 10;
/** Most virtual time one slice may cover (a process stopped for a while does not jump the host ahead by that much), ns. */
export const MAX_SLICE_NS = 100e6;
/** Most tasks one slice runs before the socket is served again. */
export const MAX_STEPS = 200_000;

export interface LiveOptions {
  /** Hangs and stalls seen while live (each summary once). */
  onHang?: (summary: string) => void;
  /**
   * goLive: start this module's clock (default). False when another pump
   * already runs the machine's time (the xl prompt's LiveTime): two pumps
   * would run slices in the middle of a command.
   */
  clock?: boolean;
}

/** The machine's clock, advanced with the wall clock while started. */
export class LiveClock {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private readonly hangs = new Set<string>();

  constructor(
    private readonly host: Machine,
    private readonly opts: LiveOptions = {},
  ) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer) return;
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), SLICE_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Runs the machine for the wall time since the last tick (at most MAX_SLICE_NS of it). */
  tick(): void {
    const t = performance.now();
    const dt = Math.min((t - this.last) * 1e6, MAX_SLICE_NS);
    this.last = t;
    this.advance(dt);
  }

  /** Runs the machine `ns` of virtual time ahead (or until MAX_STEPS tasks ran). */
  advance(ns: number): void {
    const sim = this.host.sim;
    const until = sim.now + ns;
    let steps = MAX_STEPS;
    while (steps > 0) {
      const before = sim.steps;
      const r = sim.run({ until, maxSteps: steps });
      steps -= sim.steps - before;
      if (r.reason === 'until' || r.reason === 'steps') return;
      if (r.reason === 'stopped') continue;
      if (r.reason === 'hang') {
        // A hung guest stays hung (the clock still runs for everything else):
        // said once, then time goes on to the next timer as if idle.
        if (!this.hangs.has(r.hang.summary)) {
          this.hangs.add(r.hang.summary);
          this.opts.onHang?.(r.hang.summary);
        }
      }
      // idle, or hung: nothing ready before the next timer; move time there (or to `until`).
      const next = sim.clock.nextDeadline();
      if (next === undefined || next > until) {
        sim.clock.advanceTo(until);
        return;
      }
      sim.clock.advanceTo(next);
      sim.clock.fireDue();
    }
  }
}

/** A host served live: its xenstored on `path`, its clock running. */
export interface LiveHost {
  readonly server: SocketServer;
  readonly clock: LiveClock;
  close(): Promise<void>;
}

/** Serves `host`'s xenstored on `path` (refused if a daemon answers there) and starts its clock. */
export async function goLive(host: Machine, path: string, opts: LiveOptions = {}): Promise<LiveHost> {
  const server = await listenUnix(host.xsd, path);
  const clock = new LiveClock(host, opts);
  if (opts.clock !== false) clock.start();
  return {
    server,
    clock,
    close: async () => {
      clock.stop();
      await server.close();
    },
  };
}

/**
 * Resolves on the first SIGINT, SIGTERM or SIGHUP. Install it before the host
 * announces itself: until a handler exists, SIGTERM's default action kills the
 * process and leaves the socket file behind.
 */
export function untilSignal(): { stopped: Promise<string>; dispose(): void } {
  const sigs = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  let done: (s: string) => void = () => {};
  const stopped = new Promise<string>((r) => (done = r));
  const handlers = sigs.map((s) => [s, () => done(s)] as const);
  for (const [s, h] of handlers) process.once(s, h);
  return { stopped, dispose: () => handlers.forEach(([s, h]) => process.off(s, h)) };
}

/**
 * After a command's own work (a run, a scenario, xl's commands): serve the
 * host live on `path` until a signal. Prints where on stderr (stdout stays
 * the command's result). Returns 1 if the socket could not be served.
 */
export async function serveUntilSignal(cmd: string, host: Machine, path: string): Promise<number> {
  const sig = untilSignal();
  let live: LiveHost;
  try {
    live = await goLive(host, path, { onHang: (s) => process.stderr.write(`xenode ${cmd}: (live) hang: ${s}\n`) });
  } catch (e) {
    sig.dispose();
    process.stderr.write(`xenode ${cmd}: --xenstore-socket: ${(e as Error).message}\n`);
    return 1;
  }
  process.stderr.write(`xenode ${cmd}: serving the host's xenstored on ${path} (XENSTORED_PATH=${path}); virtual time runs; SIGINT/SIGTERM stops\n`);
  await sig.stopped;
  sig.dispose();
  await live.close();
  return 0;
}

/**
 * Refuses, before any work is done, a --xenstore-socket path that listenUnix
 * would refuse later (a daemon answers there, or it is not a socket).
 */
export async function checkSocketPath(path: string): Promise<string | undefined> {
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  if (!st.isSocket()) return `${path} exists and is not a socket; not replacing it`;
  if (await socketAnswers(path)) return `${path} is in use: a daemon answers on it (stop it, or choose another path)`;
  return undefined;
}
