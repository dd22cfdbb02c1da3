// A virtual CPU: IF, the one-instruction STI shadow, a LAPIC, run state, the
// per-vCPU upcall vector and its one-shot timer. It implements GuestDoors
// (abi/doors.ts): every door call is an instruction boundary, so it ends in
// exit(): a sim choice point (other ready work may run "on another CPU" right
// now), then the "VM entry" interrupt check, which calls entry.interrupt()
// synchronously, nested in the door call, as hardware does between two
// instructions.
//
// Upcall delivery (docs/architecture.md §4.1), chosen in assertEvtchnIrq():
//   per-vCPU vector set  -> LAPIC IRR (edge: one injection per 0 -> 1 edge,
//                           the handler must EOI)
//   else global callback -> kick; then at *every* VM entry with IF=1 and
//        vector (type 2)    upcall_pending=1 the vector is injected again
//                           (level). A no-op handler re-enters forever: an
//                           iret opens no interrupt shadow, so the guest
//                           never runs another instruction. After
//                           STORM_LIMIT injections in one entry the vCPU is
//                           livelocked: it never runs guest code again (a
//                           VcpuLivelock unwinds the guest as shutdown does)
//                           and the oracle reports the storm.
//   else (GSI/none)      -> nothing reaches the vCPU.
//   upcallHook installed -> the domain's kernel is host-side code (dom0's
//                           Linux, src/dom0/kernel/events.ts) and runs its
//                           own demux; the hypervisor only calls the hook.
//
// Interleavings that the model must reproduce (numbered as in the reference):
//  §4.4 "check, then hlt" with IF=1:
//    1. guest demux finds nothing; 2. at the next door (point) an event sets
//    IRR, IF=1 so it is taken at once and EOI'd; 3. hlt: IRR empty -> halted,
//    and the event sits unprocessed with upcall_pending=1 ([1/0/1] while halted).
//  The fix "cli; check; sti; hlt": an event arriving at any door between cli
//    and hlt only sets IRR (IF=0, then the STI shadow covers hlt); hlt clears
//    the shadow, sees IRR and returns false after delivering it.
import type { GuestDoors, GuestEntry } from '../abi/doors.ts';
import { SHARED_INFO_U32, VCPU_INFO, VCPU_TIME_INFO } from '../abi/xen.ts';
import type { Clock, Sim, Task, Timer } from '../sim/index.ts';
import type { Domain } from './domain.ts';
import { Lapic } from './lapic.ts';
import { dispatchHypercall } from './hypercall.ts';

/** running: executing guest code; runnable: woken, waiting for the run queue; halted: hlt/block/poll; down: never runs again. */
export type VcpuState = 'down' | 'runnable' | 'running' | 'halted';

/**
 * Thrown through the guest when its vCPU is livelocked in an interrupt storm:
 * marked like the runtime's own shutdown unwinding (`__xenodeExit`), so the
 * guest does not mistake it for its own crash; the vCPU stays halted.
 */
export class VcpuLivelock extends Error {
  readonly __xenodeExit = true;
}

/** How an upcall reaches the vCPU, in words for the flight recorder (cached: no string per upcall). */
const UPCALL_HOW = new Map<number, string>();
function upcallHow(vector: number, callback: number): string {
  const key = vector !== 0 ? vector : callback !== 0 ? 0x10000 + callback : -1;
  let s = UPCALL_HOW.get(key);
  if (s === undefined) {
    s = vector !== 0 ? `vector ${vector} -> LAPIC IRR` : callback !== 0 ? `callback vector ${callback} (level)` : 'no upcall path';
    UPCALL_HOW.set(key, s);
  }
  return s;
}

/** Injections allowed in one VM entry before we call it an interrupt storm. */
export const STORM_LIMIT = 1000;

const TWO32 = 4294967296;
/** `vector N` wake reasons, made once per vector (the wake path allocates nothing). */
const VECTOR_WHY: string[] = [];

export class Vcpu implements GuestDoors {
  /** EFLAGS.IF. PVH starts with interrupts off. */
  IF = false;
  /** STI shadow: interrupts stay blocked until the next instruction completes. */
  shadow = false;
  state: VcpuState = 'down';
  /** v->processor: the pCPU it runs on (Hypervisor.pickCpu at creation; xenode never migrates). */
  readonly processor: number;
  /** Whether it was ever started (a never-started PVH vCPU has paging off: the 'q' key's "hap, 1 levels"). */
  started = false;
  /** Why it is halted or down (for dumps and the oracle). */
  why = 'not started';
  readonly lapic = new Lapic();
  /** HVMOP_set_evtchn_upcall_vector (0 = none). */
  upcallVector = 0;
  entry: GuestEntry | undefined;
  /** The one-shot set_timer_op timer (timer.ts). */
  timer: Timer | undefined;
  /** Its deadline (ns, absolute) or -1. */
  timerDeadline = -1;
  /** SCHEDOP_poll: the ports this vCPU waits on, while polling. */
  pollPorts: number[] | undefined;
  /** SCHEDOP_poll timeout timer. */
  pollTimer: Timer | undefined;
  /** Interrupt storms seen (a level callback with a handler that never clears upcall_pending). */
  storms = 0;
  /** Interrupts injected (for tests and the trace). */
  injections = 0;
  /**
   * Host domains: called on the upcall edge instead of a vector. dom0's kernel
   * installs it (src/dom0/kernel/events.ts), as a guest registers its vector;
   * the hypervisor knows nothing of what runs behind it.
   */
  upcallHook: (() => void) | undefined;
  /** The task that resumes the guest on this vCPU. */
  readonly task: Task;
  private lastTime = -1;
  /** Word index of this vCPU's vcpu_info in the shared_info u32 view. */
  private readonly vi: number;
  /** dom.hv.sim and its clock (every door call needs both). */
  private readonly sim: Sim;
  private readonly clock: Clock;

  /** `d1v0`: how traces and the flight recorder name this vCPU. */
  readonly actor: string;

  constructor(readonly dom: Domain, readonly vcpuId: number) {
    this.actor = `d${dom.id}v${vcpuId}`;
    this.vi = vcpuId * SHARED_INFO_U32.vcpuStride;
    this.sim = dom.hv.sim;
    this.clock = dom.hv.sim.clock;
    this.processor = dom.hv.pickCpu();
    const self = this;
    this.task = {
      name: `d${dom.id}v${vcpuId}`,
      queued: false,
      nestable: false,
      run() {
        self.runTask();
      },
    };
    // vcpu_time_info: tsc is in ns, so mul = 2^31 with shift 1 gives ns = tsc.
    const t = vcpuId * VCPU_INFO.size + VCPU_INFO.time;
    dom.shared.dv.setUint32(t + VCPU_TIME_INFO.tsc_to_system_mul, 0x80000000, true);
    dom.shared.dv.setInt8(t + VCPU_TIME_INFO.tsc_shift, 1);
  }

  get id(): number {
    return this.vcpuId;
  }

  get nrFrames(): number {
    return this.dom.physmap.nrFrames;
  }

  /** evtchn_upcall_pending of this vCPU's vcpu_info. */
  get upcallPending(): boolean {
    return this.dom.shared.u8[this.vcpuId * VCPU_INFO.size] !== 0;
  }

  // ---- lifecycle (called by the domain / the kernel loader) ----

  /** Attach the kernel's entry and make the vCPU runnable: the first resume() is the start of day. */
  start(entry: GuestEntry): void {
    if (this.dom.dying || this.dom.shutdownReason !== undefined) return;
    this.entry = entry;
    this.started = true;
    this.state = 'runnable';
    this.why = '';
    this.dom.hv.sim.ready(this.task);
  }

  /** vcpu_unblock: a halted vCPU becomes runnable (a spurious wakeup is harmless: the guest re-checks). */
  wake(why: string): void {
    if (this.state !== 'halted' || this.livelock !== undefined) return;
    this.state = 'runnable';
    this.why = '';
    if (this.pollPorts) {
      this.pollPorts = undefined;
      this.dom.pollMask &= ~(1 << this.vcpuId);
      this.dom.hv.sim.clock.cancel(this.pollTimer);
      this.pollTimer = undefined;
    }
    const tr = this.dom.hv.trace;
    if (tr.enabled) tr.instant(this.dom.id, this.vcpuId, 'wake', { why });
    this.dom.hv.recorder?.wake(this.clock.now, this.dom, this.vcpuId, why);
    if (!this.dom.paused) this.dom.hv.sim.ready(this.task);
  }

  /** The vCPU stops for good (hlt with IF=0, shutdown, destroy). */
  down(why: string): void {
    this.state = 'down';
    this.why = why;
    this.dom.hv.sim.clock.cancel(this.timer);
    this.timer = undefined;
    this.timerDeadline = -1;
    if (this.pollPorts) {
      this.pollPorts = undefined;
      this.dom.pollMask &= ~(1 << this.vcpuId);
    }
  }

  /** Why the vCPU is livelocked in an interrupt storm (it never runs guest code again), or undefined. */
  livelock: string | undefined;

  /** Block (hlt, SCHEDOP_block, SCHEDOP_poll). */
  halt(why: string): void {
    this.state = 'halted';
    this.why = why;
    const tr = this.dom.hv.trace;
    if (tr.enabled) tr.instant(this.dom.id, this.vcpuId, 'halt', { why });
    this.dom.hv.recorder?.halt(this.clock.now, this.dom, this.vcpuId, why);
  }

  private runTask(): void {
    if (this.state !== 'runnable' || this.dom.paused) return;
    this.state = 'running';
    this.dom.touch();
    const entry = this.entry;
    if (!entry) {
      this.halt('no kernel');
      return;
    }
    this.updateTime();
    try {
      this.deliver();
      if (this.state === 'running') entry.resume();
    } catch (e) {
      if (e instanceof VcpuLivelock) return;
      this.dom.crash(`d${this.dom.id}v${this.vcpuId}: guest exception: ${String((e as Error)?.message ?? e)}`);
      return;
    }
    // The contract says resume() returns only once halted or down. A guest
    // that returns while running is treated as idle (halted) rather than
    // spinning the run queue; the trace shows it.
    if (this.state === 'running') {
      this.halt('returned from resume() without hlt');
    }
  }

  // ---- upcall plumbing ----

  /** vcpu_mark_events_pending: only the 0 -> 1 edge of upcall_pending raises anything. */
  markEventsPending(): void {
    const u8 = this.dom.shared.u8;
    const o = this.vcpuId * VCPU_INFO.size;
    if (u8[o] !== 0) return;
    u8[o] = 1;
    const rec = this.dom.hv.recorder;
    if (rec && !this.dom.host) rec.upcall(this.clock.now, this.dom, this.vcpuId, upcallHow(this.upcallVector, this.dom.callbackVector));
    this.assertEvtchnIrq();
  }

  /** hvm_assert_evtchn_irq (see the header for the three ways). */
  assertEvtchnIrq(): void {
    if (this.upcallHook) {
      this.upcallHook();
    } else if (this.upcallVector !== 0) {
      this.lapicSetIrq(this.upcallVector);
    } else if (this.dom.callbackVector !== 0) {
      this.wake('callback vector kick');
    }
  }

  /** vlapic_set_irq: request the vector and wake a halted vCPU. */
  lapicSetIrq(vector: number): void {
    this.lapic.set(vector);
    if (this.state === 'halted') this.wake((VECTOR_WHY[vector] ??= `vector ${vector}`));
  }

  /** Would an interrupt be taken now if IF=1 and no shadow (hvm_vcpu_has_pending_irq)? */
  hasPendingIrq(): boolean {
    if (this.lapic.deliverable() >= 0) return true;
    return this.upcallVector === 0 && this.dom.callbackVector !== 0 && this.upcallPending;
  }

  /** The VM-entry check: inject while an interrupt is deliverable. */
  deliver(): void {
    let n = 0;
    while (this.IF && !this.shadow && this.state === 'running') {
      let vec = this.lapic.deliverable();
      if (vec >= 0) {
        this.lapic.ack(vec);
      } else if (this.upcallVector === 0 && this.dom.callbackVector !== 0 && this.upcallPending) {
        vec = this.dom.callbackVector; // level: no LAPIC state, re-injected while upcall_pending
      } else {
        return;
      }
      if (++n > STORM_LIMIT) {
        this.storms++;
        const msg = `interrupt storm: vector ${vec} re-injected ${STORM_LIMIT} times in one VM entry with upcall_pending=1 and IF=1`;
        const tr = this.dom.hv.trace;
        if (tr.enabled) tr.instant(this.dom.id, this.vcpuId, 'interrupt storm', { vector: vec });
        this.livelock = msg;
        this.halt(`livelock (${msg})`);
        throw new VcpuLivelock(msg);
      }
      this.inject(vec);
    }
  }

  private inject(vector: number): void {
    this.injections++;
    this.dom.hv.recorder?.irq(this.clock.now, this.dom, this.vcpuId, vector);
    const tr = this.dom.hv.trace;
    if (tr.enabled) {
      tr.slice(this.dom.id, this.vcpuId, `upcall vector ${vector}`, 1);
      this.dom.evtchn.endFlows(this.vcpuId);
    }
    const entry = this.entry;
    if (!entry) return;
    // An interrupt gate clears IF; iret restores it.
    this.IF = false;
    try {
      entry.interrupt(vector);
    } catch (e) {
      this.dom.crash(`d${this.dom.id}v${this.vcpuId}: exception in interrupt handler: ${String((e as Error)?.message ?? e)}`);
    } finally {
      if (this.state === 'running') this.IF = true;
    }
  }

  /** vcpu_info.time := now (version odd while writing, even after), if time moved. */
  updateTime(): void {
    const now = this.clock.now;
    if (now === this.lastTime) return;
    this.lastTime = now;
    const u32 = this.dom.shared.u32;
    const t = this.vi + VCPU_INFO.time / 4;
    const lo = now >>> 0;
    const hi = Math.floor(now / TWO32) >>> 0;
    u32[t] = (u32[t]! + 1) >>> 0;
    u32[t + 2] = lo; // tsc_timestamp
    u32[t + 3] = hi;
    u32[t + 4] = lo; // system_time
    u32[t + 5] = hi;
    u32[t] = (u32[t]! + 1) >>> 0;
  }

  /**
   * After each instruction that matters: a choice point, then the VM-entry
   * interrupt check. `record`: the instruction (cli, sti, eoi) already took
   * effect, so the flight recorder notes it before other work may run.
   */
  private exit(label: string, record = false): void {
    if (this.livelock !== undefined) throw new VcpuLivelock(this.livelock);
    if (record) this.dom.hv.recorder?.door(this.clock.now, this.dom, this.vcpuId, label, -1);
    this.sim.point(label);
    if (this.state === 'running') {
      this.updateTime();
      if (this.IF && !this.shadow) this.deliver();
    }
  }

  // ---- GuestDoors ----

  frame(gpfn: number): ArrayBuffer {
    return this.dom.physmap.frame(gpfn);
  }

  hypercall(op: number, a1?: number, a2?: number, a3?: number, a4?: number, a5?: number): number {
    this.shadow = false;
    let rc: number;
    try {
      rc = dispatchHypercall(this, op, a1 ?? 0, a2 ?? 0, a3 ?? 0, a4 ?? 0, a5 ?? 0);
    } catch (e) {
      // A bug of ours must not take the host down; the guest sees -EFAULT.
      this.dom.hv.internalErrors.push(`hypercall ${op} from d${this.dom.id}v${this.vcpuId}: ${String((e as Error)?.stack ?? e)}`);
      rc = -14;
    }
    this.exit('hypercall');
    return rc;
  }

  cli(): void {
    this.shadow = false;
    this.IF = false;
    this.exit('cli', true);
  }

  sti(): void {
    // The shadow only exists if IF was 0 (x86 STI).
    this.shadow = !this.IF;
    this.IF = true;
    this.exit('sti', true);
  }

  hlt(): boolean {
    // The HLT exit clears the STI shadow (update_guest_eip), so a vector that
    // arrived between sti and hlt is seen here and the vCPU does not sleep.
    this.shadow = false;
    if (this.livelock !== undefined) throw new VcpuLivelock(this.livelock);
    this.sim.point('hlt');
    if (this.state !== 'running') return true;
    this.dom.hv.recorder?.door(this.clock.now, this.dom, this.vcpuId, 'hlt', -1);
    if (!this.IF) {
      this.down('hlt with IF=0');
      return true;
    }
    this.updateTime();
    if (this.hasPendingIrq()) {
      this.deliver();
      return this.state !== 'running';
    }
    this.halt('hlt');
    return true;
  }

  eoi(): void {
    this.shadow = false;
    this.lapic.eoi();
    this.exit('eoi', true);
  }

  point(label: string, port?: number): void {
    this.shadow = false;
    const l = typeof label === 'string' ? label : 'point';
    if (this.livelock !== undefined) throw new VcpuLivelock(this.livelock);
    this.sim.point(l);
    // Recorded after other work ran: this is the access the guest makes now.
    this.dom.hv.recorder?.door(this.clock.now, this.dom, this.vcpuId, l, typeof port === 'number' ? port | 0 : -1);
    if (this.state === 'running') {
      this.updateTime();
      if (this.IF && !this.shadow) this.deliver();
    }
  }

  rdtsc(): number {
    this.shadow = false;
    return this.clock.now;
  }

  /** A plain object with only the doors (what the kernel loader hands to the guest realm). */
  doors(): GuestDoors {
    const v = this;
    return Object.freeze({
      vcpuId: v.vcpuId,
      nrFrames: v.nrFrames,
      frame: (gpfn: number) => v.frame(gpfn),
      hypercall: (op: number, a1?: number, a2?: number, a3?: number, a4?: number, a5?: number) => v.hypercall(op, a1, a2, a3, a4, a5),
      cli: () => v.cli(),
      sti: () => v.sti(),
      hlt: () => v.hlt(),
      eoi: () => v.eoi(),
      point: (label: string, port?: number) => v.point(label, port),
      rdtsc: () => v.rdtsc(),
    });
  }
}
