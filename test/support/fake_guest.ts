// A tiny scripted guest kernel for tests and the demo (the real unikernel
// runtime lives in src/guest and boots in a node:vm realm; this one is plain
// TS that only uses the GuestDoors, so it exercises exactly the same paths).
//
// Its loop is the fixed Mirage loop of docs/architecture.md §4.8 in miniature:
//   demux: upcall_pending = 0; swap the selector; per word, pending & ~mask,
//          clear pending before dispatch
//   block: cli; if upcall_pending { sti; loop }; set_timer_op; sti; hlt
// The vector handler only EOIs (Mirage's final design); with the global
// callback it demuxes in interrupt context (Mini-OS). `racyBlock` switches
// the block to the broken "check, then hlt" with IF=1 (§4.4).
import type { GuestDoors, GuestEntry } from '../../src/abi/doors.ts';
import {
  DOMID_SELF, EVTCHN_ALLOC_UNBOUND, EVTCHN_BIND_INTERDOMAIN, EVTCHN_BIND_VIRQ, EVTCHN_PORT_ARG, EVTCHNOP, HVM_PARAM,
  HVMOP, HYPERVISOR, PAGE_SIZE, SCHEDOP, XEN_ADD_TO_PHYSMAP, XEN_HVM_EVTCHN_UPCALL_VECTOR,
  XEN_HVM_PARAM, XENMAPSPACE, XENMEM_add_to_physmap, CONSOLEIO_write,
} from '../../src/abi/xen.ts';
import { evtchn_2l_handle_events } from '../../src/abi/evtchn_2l.ts';

export interface FakeApp {
  /** Once, after boot (IF=1, upcalls set up). */
  start?(g: FakeGuest): void;
  /** For each port the demux found. */
  event?(g: FakeGuest, port: number): void;
}

export interface FakeGuestOptions {
  /** 'vector' (HVMOP_set_evtchn_upcall_vector, edge) or 'callback' (CALLBACK_IRQ type 2, level). */
  upcall?: 'vector' | 'callback';
  vector?: number;
  /** "if nothing to do: hlt" with IF=1, no cli/check/sti (the §4.4 race). */
  racyBlock?: boolean;
}

/** gpfn 0 holds hypercall arguments; shared_info goes to the last frame. */
const ARG_GPFN = 0;

export class FakeGuest implements GuestEntry {
  private booted = false;
  private stopped = false;
  private shared!: Uint32Array;
  private sharedU8!: Uint8Array;
  /** Events dispatched, per port. */
  readonly counts = new Map<number, number>();
  interrupts = 0;

  constructor(readonly doors: GuestDoors, readonly app: FakeApp = {}, readonly opts: FakeGuestOptions = {}) {}

  private args(): DataView {
    return new DataView(this.doors.frame(ARG_GPFN));
  }

  hc(op: number, a1 = 0, a2 = 0, a3 = 0): number {
    return this.doors.hypercall(op, a1, a2, a3);
  }

  // ---- the loop ----

  interrupt(_vector: number): void {
    this.interrupts++;
    // With the level-triggered global callback a no-op handler is re-injected
    // forever (docs/architecture.md §4.5): demux here, as Mini-OS does, to clear
    // upcall_pending. With the per-vCPU vector the handler only EOIs.
    if (this.opts.upcall === 'callback') this.demux();
    this.doors.eoi();
  }

  resume(): void {
    if (!this.booted) {
      this.booted = true;
      this.boot();
      this.app.start?.(this);
    }
    const d = this.doors;
    for (;;) {
      if (this.stopped) {
        this.shutdown(0);
        return;
      }
      if (this.demux()) continue;
      if (this.opts.racyBlock) {
        // "if no work: set_timer_op(deadline); hlt" with IF=1: an upcall taken
        // at the set_timer_op boundary is EOI'd and hlt sleeps (§4.4).
        this.setTimer(d.rdtsc() + 86_400_000_000_000);
        if (d.hlt()) return;
        continue;
      }
      d.cli();
      d.point('read upcall_pending');
      if (this.sharedU8[0] !== 0) {
        d.sti();
        continue;
      }
      d.sti();
      if (d.hlt()) return;
    }
  }

  /** Demux (vCPU 0). Returns whether anything was found. */
  demux(): boolean {
    const d = this.doors;
    const s = this.shared;
    d.point('demux');
    this.sharedU8[0] = 0;
    const found = evtchn_2l_handle_events(s, 0, (port) => {
      this.counts.set(port, (this.counts.get(port) ?? 0) + 1);
      this.app.event?.(this, port);
    });
    return found > 0;
  }

  private boot(): void {
    const d = this.doors;
    const gpfn = d.nrFrames - 1;
    let a = this.args();
    a.setUint16(XEN_ADD_TO_PHYSMAP.domid, DOMID_SELF, true);
    a.setUint32(XEN_ADD_TO_PHYSMAP.space, XENMAPSPACE.shared_info, true);
    a.setBigUint64(XEN_ADD_TO_PHYSMAP.idx, 0n, true);
    a.setBigUint64(XEN_ADD_TO_PHYSMAP.gpfn, BigInt(gpfn), true);
    if (this.hc(HYPERVISOR.memory_op, XENMEM_add_to_physmap, 0) !== 0) throw new Error('add_to_physmap failed');
    const si = d.frame(gpfn);
    this.shared = new Uint32Array(si);
    this.sharedU8 = new Uint8Array(si);
    const vector = this.opts.vector ?? 0x20;
    a = this.args();
    if ((this.opts.upcall ?? 'vector') === 'vector') {
      a.setUint32(XEN_HVM_EVTCHN_UPCALL_VECTOR.vcpu, d.vcpuId, true);
      a.setUint8(XEN_HVM_EVTCHN_UPCALL_VECTOR.vector, vector);
      this.hc(HYPERVISOR.hvm_op, HVMOP.set_evtchn_upcall_vector, 0);
    } else {
      a.setUint16(XEN_HVM_PARAM.domid, DOMID_SELF, true);
      a.setUint32(XEN_HVM_PARAM.index, HVM_PARAM.CALLBACK_IRQ, true);
      a.setBigUint64(XEN_HVM_PARAM.value, (2n << 56n) | BigInt(vector), true);
      this.hc(HYPERVISOR.hvm_op, HVMOP.set_param, 0);
    }
    d.sti();
  }

  // ---- helpers for apps ----

  allocUnbound(remote: number): number {
    const a = this.args();
    a.setUint16(EVTCHN_ALLOC_UNBOUND.dom, DOMID_SELF, true);
    a.setUint16(EVTCHN_ALLOC_UNBOUND.remote_dom, remote, true);
    const rc = this.hc(HYPERVISOR.event_channel_op, EVTCHNOP.alloc_unbound, 0);
    return rc < 0 ? rc : this.args().getUint32(EVTCHN_ALLOC_UNBOUND.port, true);
  }

  bindInterdomain(dom: number, port: number): number {
    const a = this.args();
    a.setUint16(EVTCHN_BIND_INTERDOMAIN.remote_dom, dom, true);
    a.setUint32(EVTCHN_BIND_INTERDOMAIN.remote_port, port, true);
    const rc = this.hc(HYPERVISOR.event_channel_op, EVTCHNOP.bind_interdomain, 0);
    return rc < 0 ? rc : this.args().getUint32(EVTCHN_BIND_INTERDOMAIN.local_port, true);
  }

  bindVirq(virq: number): number {
    const a = this.args();
    a.setUint32(EVTCHN_BIND_VIRQ.virq, virq, true);
    a.setUint32(EVTCHN_BIND_VIRQ.vcpu, this.doors.vcpuId, true);
    const rc = this.hc(HYPERVISOR.event_channel_op, EVTCHNOP.bind_virq, 0);
    return rc < 0 ? rc : this.args().getUint32(EVTCHN_BIND_VIRQ.port, true);
  }

  private portOp(cmd: number, port: number): number {
    this.args().setUint32(EVTCHN_PORT_ARG.port, port, true);
    return this.hc(HYPERVISOR.event_channel_op, cmd, 0);
  }

  send(port: number): number {
    return this.portOp(EVTCHNOP.send, port);
  }

  close(port: number): number {
    return this.portOp(EVTCHNOP.close, port);
  }

  unmask(port: number): number {
    return this.portOp(EVTCHNOP.unmask, port);
  }

  setTimer(absNs: number): number {
    return this.hc(HYPERVISOR.set_timer_op, absNs);
  }

  console(text: string): number {
    const bytes = new TextEncoder().encode(text).subarray(0, PAGE_SIZE);
    new Uint8Array(this.doors.frame(ARG_GPFN)).set(bytes);
    return this.hc(HYPERVISOR.console_io, CONSOLEIO_write, bytes.length, 0);
  }

  shutdown(reason: number): number {
    this.args().setUint32(0, reason, true);
    return this.hc(HYPERVISOR.sched_op, SCHEDOP.shutdown, 0);
  }

  /** Ask the loop to shut the domain down (poweroff) at its next iteration. */
  stop(): void {
    this.stopped = true;
  }
}
