// A tiny fake of the hypervisor side of the doors (abi/doors.ts), enough to
// unit-test the guest runtime before/without src/xen: frames, shared_info,
// 2L pending/mask/selector + upcall_pending, a per-vCPU vector through a
// one-bit IRR, IF + STI shadow, hlt, set_timer_op/VIRQ_TIMER, console_io,
// shutdown, and interdomain channels between fake domains.
import type { GuestDoors, GuestEntry } from '../../src/abi/doors.ts';
import {
  CONSOLEIO_write, EVTCHN_ALLOC_UNBOUND, EVTCHN_BIND_INTERDOMAIN, EVTCHN_BIND_VIRQ, EVTCHN_PORT_ARG, EVTCHNOP, HVM_START_INFO,
  HVMOP, HYPERVISOR, PAGE_SIZE, SCHEDOP, SHARED_INFO, XEN_ADD_TO_PHYSMAP, XEN_HVM_EVTCHN_UPCALL_VECTOR, XEN_HVM_START_MAGIC_VALUE,
  XEN_E,
} from '../../src/abi/xen.ts';
import { LAYOUT } from '../../src/abi/pvh.ts';

export class FakeWorld {
  now = 0;
  domains: FakeDomain[] = [];
  add(d: FakeDomain): FakeDomain {
    this.domains.push(d);
    return d;
  }
  /** Run until every domain is shut down or halted with no timer (returns 'hang'), or maxSteps. */
  run(maxSteps = 100000): 'done' | 'hang' | 'steps' {
    for (let i = 0; i < maxSteps; i++) {
      const live = this.domains.filter((d) => d.shutdown === undefined);
      if (live.length === 0) return 'done';
      const ready = live.filter((d) => !d.halted);
      if (ready.length > 0) {
        for (const d of ready) d.entry!.resume();
        continue;
      }
      const timers = live.filter((d) => d.timer > 0).map((d) => d.timer);
      if (timers.length === 0) return 'hang';
      this.now = Math.max(this.now, Math.min(...timers));
      for (const d of live) if (d.timer > 0 && d.timer <= this.now) {
        d.timer = 0;
        if (d.virqTimer) d.setPending(d.virqTimer);
      }
    }
    return 'steps';
  }
}

export class FakeDomain implements GuestDoors {
  readonly vcpuId = 0;
  readonly frames = new Map<number, ArrayBuffer>();
  si = new ArrayBuffer(PAGE_SIZE);
  siU8 = new Uint8Array(this.si);
  siU32 = new Uint32Array(this.si);
  IF = false;
  shadowSti = false;
  irr = false;
  vector = 0;
  halted = false;
  timer = 0;
  shutdown: number | undefined;
  console = '';
  entry: GuestEntry | undefined;
  virqTimer = 0;
  ports: Array<{ state: 'unbound' | 'inter' | 'virq'; remote?: FakeDomain; remotePort?: number; remoteDom?: number }> = [];
  points: string[] = [];
  record = false;
  calls: string[] = [];
  /** Hook run at every point() (e.g. a peer sending at the right moment). */
  onPoint: ((label: string) => void) | undefined;

  constructor(readonly world: FakeWorld, readonly domid: number, readonly nrFrames = 64, cmdline = '') {
    const si = new DataView(this.frame(LAYOUT.START_INFO_GPFN));
    si.setUint32(HVM_START_INFO.magic, XEN_HVM_START_MAGIC_VALUE, true);
    si.setUint32(HVM_START_INFO.cmdline_paddr, LAYOUT.CMDLINE_GPFN * PAGE_SIZE, true);
    const cl = new Uint8Array(this.frame(LAYOUT.CMDLINE_GPFN));
    for (let i = 0; i < cmdline.length; i++) cl[i] = cmdline.charCodeAt(i);
    this.ports[0] = { state: 'virq' }; // reserved
  }

  frame(gpfn: number): ArrayBuffer {
    if (gpfn < 0 || gpfn >= this.nrFrames) throw new RangeError('bad gpfn');
    let f = this.frames.get(gpfn);
    if (!f) this.frames.set(gpfn, (f = new ArrayBuffer(PAGE_SIZE)));
    return f;
  }
  private dv(pa: number): DataView {
    return new DataView(this.frame(Math.floor(pa / PAGE_SIZE)), pa % PAGE_SIZE);
  }

  // --- 2L rules ---
  setPending(port: number): void {
    const i = SHARED_INFO.evtchn_pending / 4 + (port >> 5);
    const bit = 1 << (port & 31);
    if (this.siU32[i]! & bit) return;
    this.siU32[i]! |= bit;
    if (this.siU32[SHARED_INFO.evtchn_mask / 4 + (port >> 5)]! & bit) return;
    this.raiseSel(port);
  }
  private raiseSel(port: number): void {
    const w = port >> 6;
    const si = 2 + (w >> 5);
    const bit = 1 << (w & 31);
    if (this.siU32[si]! & bit) return;
    this.siU32[si]! |= bit;
    if (this.siU8[0]) return;
    this.siU8[0] = 1;
    if (this.vector) {
      this.irr = true;
      this.halted = false;
    }
  }
  private unmask(port: number): void {
    const bit = 1 << (port & 31);
    const mi = SHARED_INFO.evtchn_mask / 4 + (port >> 5);
    if (!(this.siU32[mi]! & bit)) return;
    this.siU32[mi]! &= ~bit;
    if (this.siU32[SHARED_INFO.evtchn_pending / 4 + (port >> 5)]! & bit) this.raiseSel(port);
  }
  private allocPort(p: FakeDomain['ports'][number]): number {
    let i = 1;
    while (this.ports[i]) i++;
    this.ports[i] = p;
    return i;
  }

  // --- doors ---
  hypercall(op: number, a1 = 0, a2 = 0, a3 = 0): number {
    this.point(`hypercall ${op}/${a1}`);
    if (this.record) this.calls.push(`${op}/${a1}`);
    switch (op) {
      case HYPERVISOR.memory_op: {
        const d = this.dv(a2);
        this.frames.set(d.getUint32(XEN_ADD_TO_PHYSMAP.gpfn, true), this.si);
        return 0;
      }
      case HYPERVISOR.hvm_op:
        if (a1 === HVMOP.set_evtchn_upcall_vector) {
          this.vector = this.dv(a2).getUint8(XEN_HVM_EVTCHN_UPCALL_VECTOR.vector);
          this.irr = true;
        }
        return 0;
      case HYPERVISOR.set_timer_op:
        this.timer = a1;
        return 0;
      case HYPERVISOR.console_io:
        if (a1 === CONSOLEIO_write) {
          const b = new Uint8Array(this.frame(Math.floor(a3 / PAGE_SIZE)), a3 % PAGE_SIZE, a2);
          this.console += String.fromCharCode(...b);
        }
        return 0;
      case HYPERVISOR.sched_op:
        if (a1 === SCHEDOP.shutdown) this.shutdown = this.dv(a2).getUint32(0, true);
        return 0;
      case HYPERVISOR.event_channel_op: {
        const d = this.dv(a2);
        switch (a1) {
          case EVTCHNOP.bind_virq:
            this.virqTimer = this.allocPort({ state: 'virq' });
            d.setUint32(EVTCHN_BIND_VIRQ.port, this.virqTimer, true);
            return 0;
          case EVTCHNOP.alloc_unbound:
            d.setUint32(EVTCHN_ALLOC_UNBOUND.port, this.allocPort({ state: 'unbound', remoteDom: d.getUint16(EVTCHN_ALLOC_UNBOUND.remote_dom, true) }), true);
            return 0;
          case EVTCHNOP.bind_interdomain: {
            const rd = this.world.domains.find((x) => x.domid === d.getUint16(EVTCHN_BIND_INTERDOMAIN.remote_dom, true));
            const rp = d.getUint32(EVTCHN_BIND_INTERDOMAIN.remote_port, true);
            if (!rd || rd.ports[rp]?.state !== 'unbound') return -XEN_E.EINVAL;
            const lp = this.allocPort({ state: 'inter', remote: rd, remotePort: rp });
            rd.ports[rp] = { state: 'inter', remote: this, remotePort: lp };
            d.setUint32(EVTCHN_BIND_INTERDOMAIN.local_port, lp, true);
            this.setPending(lp);
            return 0;
          }
          case EVTCHNOP.send: {
            const p = this.ports[d.getUint32(EVTCHN_PORT_ARG.port, true)];
            if (!p) return -XEN_E.EINVAL;
            if (p.state === 'inter') p.remote!.setPending(p.remotePort!);
            return 0;
          }
          case EVTCHNOP.unmask:
            this.unmask(d.getUint32(EVTCHN_PORT_ARG.port, true));
            return 0;
          case EVTCHNOP.close:
            return 0;
        }
        return -XEN_E.ENOSYS;
      }
    }
    return -XEN_E.ENOSYS;
  }
  private deliver(): boolean {
    if (this.IF && !this.shadowSti && this.irr && this.entry) {
      this.irr = false;
      this.entry.interrupt(this.vector);
      return true;
    }
    return false;
  }
  cli(): void {
    this.point('cli');
    this.IF = false;
  }
  sti(): void {
    this.point('sti');
    this.IF = true;
    this.shadowSti = true;
  }
  hlt(): boolean {
    this.shadowSti = false;
    if (!this.IF) {
      this.halted = true;
      this.shutdown ??= -1;
      return true;
    }
    if (this.deliver()) return false;
    this.halted = true;
    return true;
  }
  eoi(): void {}
  point(label: string): void {
    if (this.record) this.points.push(label);
    this.onPoint?.(label);
    if (label !== 'sti') this.shadowSti = false;
    this.deliver();
  }
  rdtsc(): number {
    return this.world.now;
  }
  /** The 'e' triple of `port`. */
  triple(port: number): string {
    const b = (base: number) => (this.siU32[base / 4 + (port >> 5)]! >>> (port & 31)) & 1;
    const w = port >> 6;
    const s = (this.siU32[2 + (w >> 5)]! >>> (w & 31)) & 1;
    return `[${b(SHARED_INFO.evtchn_pending)}/${b(SHARED_INFO.evtchn_mask)}/${s}]`;
  }
}
