// Watch callback execution: the single `xenwatch` thread (drivers/xen/xenbus/
// xenbus_xs.c: xenwatch_thread) or xenwatch multithreading (mtwatch, Dongli
// Zhang's 2018 proposal, never merged; docs/architecture.md §5.5).
//
// Single: one FIFO `watch_events`, one consumer, one event per hold of
// `xenwatch_mutex`. A callback that blocks (netback's kthread_stop of a dealloc
// thread with a packet in flight) stops every later event of every domain.
//
// mtwatch: one executor per domU (`[xen-mtwatch-<domid>]`) beside the default
// `[xenwatch]`. Events are routed when they are queued, in the xenbus thread
// (dispatching inside xenwatch_thread would be blocked exactly when the default
// thread is), by the watch's get_domid(path, token): be_watch parses
// backend/<type>/<domid>/..., an otherend watch answers its device's otherend
// id. Domid 0 and unknown domids go to the default thread. Order is FIFO per
// executor, so per domain; there is no order across domains.
//
// Lifecycle (who creates and destroys the per-domain threads):
//   'domains' - watch @introduceDomain/@releaseDomain, then XS_DIRECTORY
//               /local/domain and diff (the kernel-only design the 2018
//               reviewers asked for; no toolstack change);
//   'node'    - the RFC's /local/domain/0/mtwatch/<domid>, written by libxl
//               first at create and removed last at destroy.
// Both run their callback on the default thread.
//
// Races handled here, as interleavings:
//   1. xenbus thread routes an event of domU 7 before the default thread has
//      processed @introduceDomain for 7: the event goes to the default list.
//      When the executor for 7 is created, the default list's queued events of
//      7 move to it, in order, before anything routed later; per-domain order
//      holds because the move is atomic with respect to the xenbus thread.
//   2. @releaseDomain for 7 while [xen-mtwatch-7] is inside a callback that
//      never returns: kthread_stop would put the default thread in D, which is
//      the stall mtwatch exists to avoid. The thread is left a zombie (should
//      stop set, still in the map so the domain's late events keep their
//      order); it exits by itself once the callback returns and its list drains.
//   3. unregister of a watch whose callback is running on executor E, called
//      from another thread: take E's mutex (waits for the callback), purge E's
//      queued events of that watch. From E itself: no mutex (xenwatch_pid rule).

import { Mutex, WaitQueue, current, waitEvent, type Co } from '../../sim/index.ts';
import { Kthreads, kthread_should_stop, type Kthread } from './kthread.ts';

export type XenwatchMode = 'single' | 'mtwatch';
export type MtwatchLifecycle = 'domains' | 'node';

export interface XenbusWatch {
  /** Watched node (absolute path or @special). */
  node: string;
  /** The token sent to xenstored (assigned at registration: the watch "pointer" in hex). */
  token: string;
  /** Name of the callback for stacks (e.g. 'backend_changed'); the callback pushes its own frames. */
  callback: (w: XenbusWatch, path: string, token: string) => Co;
  /** XSA-349: may the event be queued at all? Evaluated in the xenbus thread. */
  will_handle?: (w: XenbusWatch, path: string, token: string) => boolean;
  /** mtwatch: which domain's thread runs this event (undefined: default thread). */
  get_domid?: (w: XenbusWatch, path: string, token: string) => number | undefined;
  /** mtwatch get_owner: the one domid all this watch's events go to, if any. */
  owner?: number;
  /** Events queued and not yet run (XSA-349 "Count pending messages for each watch"). */
  nr_pending: number;
}

export interface WatchEvent {
  watch: XenbusWatch;
  path: string;
  token: string;
  /** Domain the event was routed for (0 = default). */
  domid: number;
}

/** One consumer thread with its list and mutex. */
export class WatchExecutor {
  readonly events: WatchEvent[] = [];
  readonly wq = new WaitQueue();
  readonly mutex: Mutex;
  running: WatchEvent | undefined;
  kt!: Kthread;
  /** Callbacks completed (tests, stats). */
  done = 0;

  constructor(readonly domid: number, mutexName: string) {
    this.mutex = new Mutex(mutexName);
  }

  get zombie(): boolean {
    return this.kt.zombie;
  }

  push(ev: WatchEvent): void {
    ev.watch.nr_pending++;
    this.events.push(ev);
    this.wq.wakeAll();
  }

  /** Drops queued events of `w` (caller holds the mutex or is this thread). */
  purge(w: XenbusWatch): number {
    let n = 0;
    for (let i = this.events.length - 1; i >= 0; i--) {
      if (this.events[i]!.watch === w) {
        this.events.splice(i, 1);
        w.nr_pending--;
        n++;
      }
    }
    return n;
  }

  /** xenwatch_thread(): pop the first event under the mutex, run its callback. */
  *loop(exitOnStop: boolean, onExit: () => void): Co {
    for (;;) {
      yield* waitEvent(this.wq, () => this.events.length > 0 || (exitOnStop && kthread_should_stop()), 'S');
      if (this.events.length === 0) {
        onExit();
        return;
      }
      yield* this.mutex.lock();
      const ev = this.events.shift();
      if (ev) {
        ev.watch.nr_pending--;
        this.running = ev;
        try {
          yield* ev.watch.callback(ev.watch, ev.path, ev.token);
        } finally {
          this.running = undefined;
          this.done++;
        }
      }
      this.mutex.unlock();
    }
  }
}

export class Xenwatch {
  readonly default: WatchExecutor;
  /** mtwatch executors by domid (zombies stay until they exit). */
  readonly perDomain = new Map<number, WatchExecutor>();
  /** Executors ever abandoned as zombies (tests, reports). */
  readonly zombies = new Set<WatchExecutor>();

  constructor(
    readonly kthreads: Kthreads,
    readonly mode: XenwatchMode,
  ) {
    this.default = new WatchExecutor(0, 'xenwatch_mutex');
  }

  /** xs_init(): start `[xenwatch]`. */
  start(): void {
    this.default.kt = this.kthreads.run('xenwatch', 'xenwatch_thread', () => this.default.loop(false, () => {}));
  }

  get xenwatchPid(): number {
    return this.default.kt.pid;
  }

  /** Every executor, default first. */
  executors(): WatchExecutor[] {
    return [this.default, ...this.perDomain.values(), ...[...this.zombies].filter((z) => !this.perDomainHas(z))];
  }

  private perDomainHas(ex: WatchExecutor): boolean {
    return this.perDomain.get(ex.domid) === ex;
  }

  /** The routing step of xs_watch_msg(), in the xenbus thread. */
  queue(w: XenbusWatch, path: string, token: string): void {
    let domid = 0;
    if (this.mode === 'mtwatch') domid = w.get_domid?.(w, path, token) ?? w.owner ?? 0;
    const ex = (domid !== 0 && this.perDomain.get(domid)) || this.default;
    ex.push({ watch: w, path, token, domid });
  }

  /** get_owner: executors where `w`'s callback may run (all of them for a global watch). */
  ownersOf(w: XenbusWatch): WatchExecutor[] {
    if (this.mode === 'single') return [this.default];
    if (w.owner !== undefined && w.owner !== 0) {
      const ex = this.perDomain.get(w.owner);
      // Events routed before the executor existed were moved to it (race 1).
      return ex ? [ex] : [this.default];
    }
    if (w.owner === 0) return [this.default];
    return this.executors();
  }

  /** Is the running sim thread the consumer of `ex` (the `current->pid != xenwatch_pid` test)? */
  static onThread(ex: WatchExecutor): boolean {
    try {
      return current() === ex.kt.thread;
    } catch {
      return false;
    }
  }

  /** unregister_xenbus_watch()'s purge step (race 3). */
  *purge(w: XenbusWatch): Co {
    for (const ex of this.ownersOf(w)) {
      const self = Xenwatch.onThread(ex);
      if (!self) yield* ex.mutex.lock();
      ex.purge(w);
      if (!self) ex.mutex.unlock();
    }
  }

  // ---------------------------------------------------------- mtwatch lifecycle

  /** Creates the executor of a new domU (race 1: adopt its queued events from the default list). */
  createDomain(domid: number): WatchExecutor {
    const old = this.perDomain.get(domid);
    if (old && !old.zombie) return old;
    const ex = new WatchExecutor(domid, `xen-mtwatch-${domid}.mutex`);
    const mine = this.default.events.filter((e) => e.domid === domid);
    if (mine.length > 0) {
      this.default.events.splice(0, this.default.events.length, ...this.default.events.filter((e) => e.domid !== domid));
      ex.events.push(...mine);
    }
    ex.kt = this.kthreads.run(`xen-mtwatch-${domid}`, 'xen_mtwatch_thread', () =>
      ex.loop(true, () => {
        if (this.perDomain.get(domid) === ex) this.perDomain.delete(domid);
        this.zombies.delete(ex);
      }),
    );
    if (old) this.zombies.add(old);
    this.perDomain.set(domid, ex);
    return ex;
  }

  /** Destroys the executor of a released domU; a busy one is left a zombie (race 2). */
  *destroyDomain(domid: number): Co {
    const ex = this.perDomain.get(domid);
    if (!ex || ex.zombie) return;
    if (ex.running === undefined && ex.events.length === 0 && !ex.mutex.locked) {
      yield* this.kthreads.stop(ex.kt);
      return;
    }
    ex.kt.shouldStop = true;
    ex.kt.zombie = true;
    this.zombies.add(ex);
    ex.wq.wakeAll();
  }

  /** Diff the set of live domUs against the executors (both lifecycle options end here). */
  *sync(domids: ReadonlySet<number>): Co {
    for (const d of [...domids].sort((a, b) => a - b)) if (d !== 0) this.createDomain(d);
    for (const [d, ex] of [...this.perDomain]) if (!domids.has(d) && !ex.zombie) yield* this.destroyDomain(d);
  }
}
