// The flight recorder: the last steps of every guest vCPU, of Xen's event
// channel rules and of the dom0 work that sent events, kept in a ring so that
// a hang can be explained from what really happened (src/machine/explain.ts)
// rather than from a template.
//
// What is recorded, and by whom:
//   door     a guest instruction boundary (doors.point label, cli, sti, hlt,
//            eoi, hypercalls by name), with the port it concerns if the guest
//            named one; the port's [p/m/s] bits and the vCPU's upcall_pending
//            are read right after, so every step shows the state it left.
//   irq      an interrupt injected into a vCPU (vector)
//   send     EVTCHNOP_send (guest hypercall or dom0's host API): sender,
//            target port, and what set_pending did with it (SetPendingResult)
//   virq     a VIRQ raised by Xen itself (VIRQ_TIMER when a singleshot fires)
//   unmask   EVTCHNOP_unmask and whether it re-raised the port
//   upcall   evtchn_upcall_pending went 0 -> 1 on a vCPU (the edge that
//            injects the per-vCPU vector), and how it was delivered
//   timer    set_timer_op (deadline)
//   halt / wake   a vCPU's run state
//
// Cost: one slot write per step. Slots are allocated as the ring fills (a
// short run records a few hundred steps; preallocating all 4,096 slot objects
// per machine was 17 % of an explored kernels/ring.ts schedule, GC included),
// then reused once it is full (no allocation from then on). The hypervisor
// checks `hv.recorder` before each call, so a run without one pays a branch.

import { ECS } from '../abi/xen.ts';
import type { Domain } from './domain.ts';

/** What set_pending did (event_2l.c: evtchn_2l_set_pending), as EventChannels.setPending returns it. */
export const SET_PENDING = {
  /** port not bound or not the guest's: nothing */
  dropped: 0,
  /** already pending: N sends while pending are one event */
  coalesced: 1,
  /** pending set, port masked: no selector bit, no upcall (the edge is lost until unmask) */
  masked: 2,
  /** pending set, selector bit already set: no new edge (an upcall is already due) */
  selectorAlreadySet: 3,
  /** pending set, selector 0 -> 1: events marked pending on the notify vCPU */
  raised: 4,
} as const;
export type SetPendingResult = (typeof SET_PENDING)[keyof typeof SET_PENDING];

export type StepKind = 'door' | 'irq' | 'send' | 'virq' | 'unmask' | 'upcall' | 'timer' | 'halt' | 'wake';

export interface Step {
  seq: number;
  /** Virtual time, ns. */
  t: number;
  kind: StepKind;
  /** Who: `d1v0` for a guest vCPU, a dom0 thread's name, or `Xen`. */
  actor: string;
  /** The domain and port the step is about (-1: none). For a send: the target. */
  domid: number;
  port: number;
  /** door: the label; others: a short detail. */
  label: string;
  /** send: SetPendingResult; irq: vector; timer: deadline; upcall: 1 if an interrupt was requested. */
  value: number;
  /** send: the sender's domid and port. */
  fromDom: number;
  fromPort: number;
  /** [p/m/s] of (domid, port) after the step, as 3 bits p<<2|m<<1|s (-1: no port). */
  bits: number;
  /** upcall_pending of the port's notify vCPU after the step (-1: no port). */
  upcallPending: number;
}

/** A vCPU's actor name (`d1v0`): the one its Vcpu made, not a new string per step. */
function actorOf(d: Domain, vcpu: number): string {
  return d.vcpus[vcpu]?.actor ?? `d${d.id}v${vcpu}`;
}

export class Recorder {
  private readonly ring: Step[];
  private next = 0;
  private count = 0;
  /** Name of the dom0 work running now (set by dom0's demux around each handler). */
  actor = '';

  constructor(readonly size = 4096) {
    if (!(Number.isSafeInteger(size) && size >= 1)) throw new RangeError(`recorder size must be a positive integer, got ${size}`);
    this.ring = [];
  }

  /** The steps still in the ring, oldest first. */
  steps(): Step[] {
    const n = Math.min(this.count, this.size);
    const out: Step[] = [];
    for (let i = this.count - n; i < this.count; i++) out.push({ ...this.ring[i % this.size]! });
    return out;
  }

  /** Steps recorded so far (including those the ring has dropped). */
  get total(): number {
    return this.count;
  }

  private slot(t: number, kind: StepKind, actor: string, d: Domain | undefined, port: number): Step {
    let s = this.ring[this.next];
    if (s === undefined) {
      // Still filling: next === ring.length here.
      s = { seq: 0, t: 0, kind, actor, domid: -1, port: -1, label: '', value: 0, fromDom: -1, fromPort: -1, bits: -1, upcallPending: -1 };
      this.ring.push(s);
    }
    this.next = this.next + 1 === this.size ? 0 : this.next + 1;
    s.seq = this.count++;
    s.t = t;
    s.kind = kind;
    s.actor = actor;
    s.domid = d ? d.id : -1;
    s.port = port;
    s.label = '';
    s.value = 0;
    s.fromDom = -1;
    s.fromPort = -1;
    if (d && port > 0 && port < 4096 && d.evtchn.state[port] !== ECS.FREE) {
      const ch = d.evtchn;
      s.bits = ((ch.isPending(port) ? 4 : 0) | (ch.isMasked(port) ? 2 : 0) | (ch.selector(port) ? 1 : 0));
      s.upcallPending = d.vcpus[ch.notify[port]!]?.upcallPending ? 1 : 0;
    } else {
      s.bits = -1;
      s.upcallPending = -1;
    }
    return s;
  }

  door(t: number, d: Domain, vcpu: number, label: string, port: number): void {
    const s = this.slot(t, 'door', actorOf(d, vcpu), d, port);
    s.label = label;
    if (port <= 0) s.upcallPending = d.vcpus[vcpu]?.upcallPending ? 1 : 0;
  }

  irq(t: number, d: Domain, vcpu: number, vector: number): void {
    const s = this.slot(t, 'irq', actorOf(d, vcpu), d, -1);
    s.value = vector;
    s.upcallPending = d.vcpus[vcpu]?.upcallPending ? 1 : 0;
  }

  /** EVTCHNOP_send from `from`'s `fromPort` to `to`'s `port`. `actor`: who called (guest vCPU or dom0 work). */
  send(t: number, actor: string, from: Domain, fromPort: number, to: Domain, port: number): Step {
    const s = this.slot(t, 'send', actor, to, port);
    s.fromDom = from.id;
    s.fromPort = fromPort;
    return s;
  }

  /**
   * The result of a send recorded before set_pending ran (so the upcall edge
   * it causes is recorded after it), and the bits it left. The slot may have
   * been reused meanwhile only if more than `size` steps were recorded inside
   * set_pending, which cannot happen.
   */
  sent(s: Step, to: Domain, port: number, r: SetPendingResult): void {
    s.value = r;
    const ch = to.evtchn;
    s.bits = (ch.isPending(port) ? 4 : 0) | (ch.isMasked(port) ? 2 : 0) | (ch.selector(port) ? 1 : 0);
    s.upcallPending = to.vcpus[ch.notify[port]!]?.upcallPending ? 1 : 0;
  }

  virq(t: number, d: Domain, virq: number, port: number, r: SetPendingResult): void {
    const s = this.slot(t, 'virq', 'Xen', d, port);
    s.value = r;
    s.label = virq === 0 ? 'VIRQ_TIMER' : `VIRQ ${virq}`;
  }

  unmask(t: number, actor: string, d: Domain, port: number, raised: boolean): void {
    const s = this.slot(t, 'unmask', actor, d, port);
    s.value = raised ? 1 : 0;
  }

  upcall(t: number, d: Domain, vcpu: number, how: string): void {
    const s = this.slot(t, 'upcall', 'Xen', d, -1);
    s.label = how;
    s.value = vcpu;
    s.upcallPending = 1;
  }

  timer(t: number, d: Domain, vcpu: number, deadline: number): void {
    const s = this.slot(t, 'timer', actorOf(d, vcpu), d, -1);
    s.value = deadline;
  }

  halt(t: number, d: Domain, vcpu: number, why: string): void {
    const s = this.slot(t, 'halt', actorOf(d, vcpu), d, -1);
    s.label = why;
    s.upcallPending = d.vcpus[vcpu]?.upcallPending ? 1 : 0;
  }

  wake(t: number, d: Domain, vcpu: number, why: string): void {
    const s = this.slot(t, 'wake', 'Xen', d, -1);
    s.label = why;
    s.value = vcpu;
  }
}
