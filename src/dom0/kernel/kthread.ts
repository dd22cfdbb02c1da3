// Kernel threads of dom0 (kernel/kthread.c). Each kthread is a SimThread with
// a dom0 pid and a comm name; its frames start with `ret_from_fork`, `kthread`
// and the thread function, so /proc/PID/stack reads like a real dom0's.
//
// Why the name is truncated: Linux keeps `comm` in TASK_COMM_LEN (16) bytes
// including the NUL, so `kthread_run(..., "vif1.0-q0-guest-rx")` shows up in
// `ps` as `[vif1.0-q0-guest]` and the dealloc thread as `[vif1.0-q0-deall]`.
// `fullName` keeps what the caller asked for.
//
// kthread_stop() semantics (the heart of the xenwatch stall):
//   1. the stopper sets should_stop and wakes the thread;
//   2. the stopper sleeps in D, with `kthread_stop` on its stack, until the
//      thread function returns;
//   3. a thread that only exits on a condition besides should_stop (netback's
//      dealloc thread: inflight_packets == 0) keeps its stopper in D forever
//      unless that condition arrives. There is no timeout, as in Linux.

import { SimThread, call, current, waitEvent, type Co, type Sim } from '../../sim/index.ts';

export const TASK_COMM_LEN = 16;

export class Kthread {
  shouldStop = false;
  /** Set by mtwatch when a thread that cannot be stopped is abandoned. */
  zombie = false;
  readonly thread: SimThread;
  readonly comm: string;

  constructor(
    readonly kthreads: Kthreads,
    readonly pid: number,
    readonly fullName: string,
    readonly threadFn: string,
    body: (kt: Kthread) => Co<unknown>,
  ) {
    this.comm = fullName.slice(0, TASK_COMM_LEN - 1);
    this.thread = new SimThread(kthreads.sim, pid, this.comm, () => this.main(body) as Co);
    kthreadOf.set(this.thread, this);
  }

  private *main(body: (kt: Kthread) => Co<unknown>): Co<unknown> {
    try {
      return yield* call(this.threadFn, body(this));
    } finally {
      this.kthreads.reap(this);
    }
  }

  get state(): 'R' | 'S' | 'D' | 'X' {
    return this.thread.state;
  }

  get exited(): boolean {
    return this.thread.state === 'X';
  }

  /** Make the thread re-check its wait condition (wake_up_process). */
  wake(): void {
    this.thread.wake();
  }
}

/** The kthreadd side: pid allocation, the task list, kthread_stop. */
export class Kthreads {
  private readonly live = new Map<number, Kthread>();
  private nextPid: number;

  constructor(readonly sim: Sim, firstPid = 38) {
    this.nextPid = firstPid;
  }

  /** dom0 pid allocation: increasing, never reused within a run (pid_max is far away). */
  allocPid(): number {
    return this.nextPid++;
  }

  /** kthread_run(): create and wake a kernel thread running `threadFn`. */
  run(name: string, threadFn: string, body: (kt: Kthread) => Co<unknown>): Kthread {
    const kt = new Kthread(this, this.allocPid(), name, threadFn, body);
    this.live.set(kt.pid, kt);
    return kt;
  }

  /** Live (not exited) kernel threads by pid order. */
  list(): Kthread[] {
    return [...this.live.values()].sort((a, b) => a.pid - b.pid);
  }

  get(pid: number): Kthread | undefined {
    return this.live.get(pid);
  }

  find(fullName: string): Kthread | undefined {
    for (const kt of this.live.values()) if (kt.fullName === fullName) return kt;
    return undefined;
  }

  reap(kt: Kthread): void {
    this.live.delete(kt.pid);
  }

  /**
   * kthread_stop(): ask `kt` to stop and wait (state D) until it has exited.
   * Returns the thread function's result.
   */
  *stop(kt: Kthread): Co<unknown> {
    yield* call('kthread_stop', this.stopWait(kt));
    return kt.thread.result;
  }

  private *stopWait(kt: Kthread): Co {
    kt.shouldStop = true;
    kt.wake();
    yield* waitEvent(kt.thread.exited, () => kt.exited, 'D');
  }
}

/** kthread_should_stop() for the running kernel thread. */
export function kthread_should_stop(): boolean {
  return currentKthread()?.shouldStop ?? false;
}

/** The running kernel thread, if the current sim thread is one. */
export function currentKthread(): Kthread | undefined {
  let t: SimThread;
  try {
    t = current();
  } catch {
    return undefined;
  }
  return kthreadOf.get(t);
}

// SimThread → Kthread, module-wide: a sim thread belongs to one kernel only.
const kthreadOf = new WeakMap<SimThread, Kthread>();
