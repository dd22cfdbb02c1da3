// Two-level event channels, with Xen's exact rules (docs/architecture.md §4.1).
//
// One EventChannels per domain. The pending/mask bitmaps and the per-vCPU
// selector and upcall_pending live in the domain's shared_info page (the very
// ArrayBuffer the guest maps), so the guest's own bit twiddling and ours meet
// in the same bytes, as on real hardware. We address them as 32-bit words:
// 64-bit word w of Xen is our words 2w (low) and 2w+1 (high), little-endian,
// so port p is bit (p & 31) of word p >> 5 and its selector bit (p >> 6) is
// bit ((p >> 6) & 31) of selector word (p >> 11).
//
// Every operation returns what the hypercall returns (>= 0 or -errno) and
// changes nothing on error, so the guest path (hypercall.ts decodes structs
// and calls these) and the host path (dom0's "Linux", tests) share one set of
// rules.
//
// Why each rule matters (the 2020 hang, docs/architecture.md §4):
//  - set_pending on an already-pending port stops at once (coalescing): a
//    wedged port [1/0/0] stays wedged whatever the sender does.
//  - a port pending while masked sets no selector bit: its edge is lost, and
//    only unmask (masked -> unmasked, pending) re-raises it.
//  - the upcall fires on upcall_pending 0 -> 1 only (vcpu.ts decides how it
//    reaches the vCPU: LAPIC edge or level callback).
// FIFO (evtchn_fifo.ts) shares the channel table (evtchn_table.ts), as Xen's
// d->evtchn_port_ops do; each bit op tests `fifo` once, 2L stays inline.
import {
  DOMID_SELF, ECS, EVTCHNSTAT, NR_VIRQS, SHARED_INFO_U32, VIRQ_IS_GLOBAL, XEN_E,
} from '../abi/xen.ts';
import type { Domain } from './domain.ts';
import { ChannelTable, NR_PORTS, validPort } from './evtchn_table.ts';
import { SET_PENDING, type SetPendingResult } from './recorder.ts';
import { SendFlows } from './evtchn_flows.ts';

export { NR_PORTS, validPort } from './evtchn_table.ts';
const PEND = SHARED_INFO_U32.pending;
const MASK = SHARED_INFO_U32.mask;
const STRIDE = SHARED_INFO_U32.vcpuStride;
const SEL = SHARED_INFO_U32.pendingSel;

export type PortHandler = (port: number) => void;

/** EVTCHNOP_status, decoded. */
export interface EvtchnStatus {
  status: number;
  vcpu: number;
  /** unbound: remote domid; interdomain: remote domid. */
  dom?: number;
  /** interdomain: remote port. */
  port?: number;
  virq?: number;
}

export class EventChannels extends ChannelTable {
  /** virq -> port, at [vcpu * NR_VIRQS + virq] (global VIRQs always at vcpu 0). */
  private readonly virqPort: Uint32Array;
  /** All ports below this are in use: allocation is lowest-free, and this keeps it O(1) amortised. */
  private lowestFree = 1;
  private readonly u32: Uint32Array;
  /** Trace only: send -> upcall flow arrows (evtchn_flows.ts). */
  readonly flows: SendFlows;

  constructor(private readonly dom: Domain, maxPort = Number.MAX_SAFE_INTEGER) {
    super(maxPort);
    this.state[0] = ECS.RESERVED;
    this.u32 = dom.shared.u32;
    this.virqPort = new Uint32Array(dom.vcpus.length * NR_VIRQS);
    this.flows = new SendFlows(dom.hv.trace, dom.id);
  }

  // ---- the port ops (event_2l.c inline; event_fifo.c behind `fifo`) ----

  isPending(port: number): boolean {
    if (this.fifo !== undefined) return this.fifo.isPending(port);
    return ((this.u32[PEND + (port >> 5)]! >>> (port & 31)) & 1) === 1;
  }

  isMasked(port: number): boolean {
    if (this.fifo !== undefined) return this.fifo.isMasked(port);
    return port >= NR_PORTS || ((this.u32[MASK + (port >> 5)]! >>> (port & 31)) & 1) === 1;
  }

  /** The s of [p/m/s]: selector bit port >> 6 of the notify vCPU. FIFO: LINKED, its counterpart (for the hang oracle). */
  selector(port: number): boolean {
    if (this.fifo !== undefined) return this.fifo.isBusy(port);
    const i = this.notify[port]! * STRIDE + SEL + (port >> 11);
    return ((this.u32[i]! >>> ((port >> 6) & 31)) & 1) === 1;
  }

  /**
   * set_pending (the hot path: no allocation). Coalesces; sets the selector
   * only when unmasked; raises the upcall on the selector's 0 -> 1 edge;
   * wakes pollers.
   */
  setPending(port: number): SetPendingResult {
    this.dom.touch();
    if (this.state[port]! <= ECS.RESERVED || this.consumer[port] !== 0) return SET_PENDING.dropped;
    if (this.fifo !== undefined) return this.fifo.setPending(this.notify[port]!, port);
    const u32 = this.u32;
    const b = 1 << (port & 31);
    const pi = PEND + (port >> 5);
    const p = u32[pi]!;
    if (p & b) return SET_PENDING.coalesced; // N sends while pending are one event
    u32[pi] = p | b;
    const r = (u32[MASK + (port >> 5)]! & b) === 0 ? this.raiseSelector(port) : SET_PENDING.masked;
    if (this.dom.pollMask !== 0) this.dom.checkPollers(port);
    return r;
  }

  clearPending(port: number): void {
    this.dom.touch();
    if (this.fifo !== undefined) this.fifo.clearPending(port);
    else this.u32[PEND + (port >> 5)]! &= ~(1 << (port & 31));
  }

  /** Guest-side write (host domains, tests): set the mask bit (FIFO: MASKED, if the port has a word). */
  mask(port: number): void {
    this.dom.touch();
    if (this.fifo !== undefined) this.fifo.mask(port);
    else if (validPort(port)) this.u32[MASK + (port >> 5)]! |= 1 << (port & 31);
  }

  // ---- EVTCHNOP_* (same rules and return codes for hypercalls and the host API) ----

  /**
   * get_free_port: the lowest FREE port below portLimit(), or -ENOSPC; does
   * not claim it. A FIFO port still LINKED is busy (evtchn_allocate_port:
   * -EBUSY): skipped, and lowestFree stays on it until it is unlinked.
   */
  private findFree(): number {
    const limit = this.portLimit();
    let busy = -1;
    for (let p = this.lowestFree; p < limit; p++) {
      if (p >= this.nrValid) this.addBucket(p);
      if (this.state[p] !== ECS.FREE) continue;
      if (this.fifo !== undefined && this.fifo.isBusy(p)) {
        if (busy < 0) busy = p;
        continue;
      }
      this.lowestFree = busy < 0 ? p : busy;
      return p;
    }
    this.lowestFree = busy < 0 ? Math.max(this.lowestFree, limit) : busy;
    return -XEN_E.ENOSPC;
  }

  private claim(port: number, state: number, notify: number): void {
    this.dom.touch();
    this.state[port] = state;
    this.notify[port] = notify;
    if (port === this.lowestFree) this.lowestFree++;
    if (this.fifo !== undefined) this.fifo.initPort(port); // evtchn_port_init: the default priority
  }

  /** evtchn_free: back to FREE, pending cleared, notify vCPU reset to 0. */
  private free(port: number): void {
    this.clearPending(port);
    this.state[port] = ECS.FREE;
    this.delivered[port] = 0;
    this.notify[port] = 0;
    this.remoteDom[port] = 0;
    this.remotePort[port] = 0;
    this.virq[port] = 0;
    this.flows.forget(port);
    if (port < this.lowestFree) this.lowestFree = port;
  }

  /** rcu_lock_domain_by_any_id: the domain `dom` names (DOMID_SELF: the caller), or -ESRCH. */
  private lookup(dom: number): Domain | number {
    if (dom === DOMID_SELF || dom === this.dom.id) return this.dom;
    return this.dom.hv.domain(dom) ?? -XEN_E.ESRCH;
  }

  /** The dummy XSM's XSM_TARGET (xsm/dummy.h: xsm_default_action): the caller itself, or a privileged caller. */
  private xsmTarget(t: Domain): number {
    return t === this.dom || this.dom.privileged ? 0 : -XEN_E.EPERM;
  }

  /**
   * EVTCHNOP_alloc_unbound: a new ECS_UNBOUND port in `dom` (DOMID_SELF, or
   * any domain for a privileged caller: the toolstack allocates the store and
   * console ports in a new guest) that `remote` may bind to.
   */
  allocUnbound(remote: number, dom: number = DOMID_SELF): number {
    if (remote >>> 0 !== remote || remote > 0xffff) return -XEN_E.EINVAL;
    // Xen 4.17 event_channel.c: evtchn_alloc_unbound: the domain (-ESRCH), a
    // free port, then XSM (-EPERM; the port is given back by check_free_port).
    const t = this.lookup(dom);
    if (typeof t === 'number') return t;
    const ch = t.evtchn;
    const port = ch.findFree();
    if (port < 0) return port;
    const denied = this.xsmTarget(t);
    if (denied) return denied;
    ch.claim(port, ECS.UNBOUND, 0);
    ch.remoteDom[port] = remote === DOMID_SELF ? this.dom.id : remote;
    return port;
  }

  /**
   * EVTCHNOP_bind_interdomain: connect a new local port to `rdom`'s unbound
   * `rport` (which must be reserved for us). The new local port is always set
   * pending: notifications sent to the unbound port were dropped.
   */
  bindInterdomain(rdom: number, rport: number): number {
    if (rdom >>> 0 !== rdom || rdom > 0xffff) return -XEN_E.EINVAL;
    const rd = this.dom.hv.domain(rdom === DOMID_SELF ? this.dom.id : rdom);
    if (!rd || rd.dying) return -XEN_E.ESRCH;
    const lport = this.findFree();
    if (lport < 0) return lport;
    const rc = rd.evtchn;
    if (!rc.valid(rport) || rc.state[rport] !== ECS.UNBOUND || rc.remoteDom[rport] !== this.dom.id) return -XEN_E.EINVAL;
    this.claim(lport, ECS.INTERDOMAIN, 0);
    this.remoteDom[lport] = rd.id;
    this.remotePort[lport] = rport;
    rd.touch();
    rc.state[rport] = ECS.INTERDOMAIN;
    rc.remoteDom[rport] = this.dom.id;
    rc.remotePort[rport] = lport;
    this.setPending(lport);
    return lport;
  }

  /** EVTCHNOP_bind_virq: global VIRQs only on vCPU 0; -EEXIST if bound. */
  bindVirq(virq: number, vcpu = 0): number {
    if (virq >>> 0 !== virq || virq >= NR_VIRQS) return -XEN_E.EINVAL;
    const global = VIRQ_IS_GLOBAL[virq] ?? false;
    if (global && vcpu !== 0) return -XEN_E.EINVAL;
    if (vcpu >>> 0 !== vcpu || vcpu >= this.dom.vcpus.length) return -XEN_E.ENOENT;
    const slot = vcpu * NR_VIRQS + virq;
    if (this.virqPort[slot] !== 0) return -XEN_E.EEXIST;
    const port = this.findFree();
    if (port < 0) return port;
    this.claim(port, ECS.VIRQ, vcpu);
    this.virq[port] = virq;
    this.virqPort[slot] = port;
    return port;
  }

  /** EVTCHNOP_bind_ipi: a port that `send` sets pending locally, on `vcpu`. */
  bindIpi(vcpu = 0): number {
    if (vcpu >>> 0 !== vcpu || vcpu >= this.dom.vcpus.length) return -XEN_E.ENOENT;
    const port = this.findFree();
    if (port < 0) return port;
    this.claim(port, ECS.IPI, vcpu);
    return port;
  }

  /**
   * EVTCHNOP_send. Interdomain: set_pending on the remote end (at its notify
   * vCPU). IPI: locally. UNBOUND: silently dropped (returns 0). Else -EINVAL.
   * `vcpu` only names the sender in the trace; `actor` names it in the flight
   * recorder (a guest vCPU; dom0's callers leave it out and are named by the
   * work running now).
   */
  send(port: number, vcpu = 0, actor?: string): number {
    if (!this.valid(port)) return -XEN_E.EINVAL;
    const s = this.state[port];
    if (s === ECS.INTERDOMAIN) {
      this.dom.hv.evtchnSends++;
      const rd = this.dom.hv.doms[this.remoteDom[port]!];
      if (!rd) return 0;
      const rport = this.remotePort[port]!;
      if (this.dom.hv.trace.enabled) rd.evtchn.flows.start(this.dom.id, vcpu, rport);
      const rec = this.dom.hv.recorder;
      const step = rec ? rec.send(this.dom.hv.sim.clock.now, actor ?? this.callerName(), this.dom, port, rd, rport) : undefined;
      const r = rd.evtchn.setPending(rport);
      if (step) rec!.sent(step, rd, rport, r);
      return 0;
    }
    if (s === ECS.IPI) {
      this.dom.hv.evtchnSends++;
      if (this.dom.hv.trace.enabled) this.flows.start(this.dom.id, vcpu, port);
      const rec = this.dom.hv.recorder;
      const step = rec ? rec.send(this.dom.hv.sim.clock.now, actor ?? this.callerName(), this.dom, port, this.dom, port) : undefined;
      const r = this.setPending(port);
      if (step) rec!.sent(step, this.dom, port, r);
      return 0;
    }
    if (s === ECS.UNBOUND) return 0;
    return -XEN_E.EINVAL;
  }

  /** Who called send() through the host API: the dom0 work running now. */
  private callerName(): string {
    const rec = this.dom.hv.recorder;
    if (rec && rec.actor) return rec.actor;
    const cur = this.dom.hv.sim.current;
    return cur ? cur.name : `d${this.dom.id}`;
  }

  /** Trace only: end the flows of ports notifying `vcpu` (the upcall consumed them). */
  endFlows(vcpu: number, port = -1): void {
    this.flows.end(vcpu, port, (p) => this.notify[p] === vcpu);
  }

  /** Send a VIRQ to this domain (timer, console, dom_exc): set_pending on its port, if bound. */
  sendVirq(virq: number, vcpu = 0): void {
    const global = VIRQ_IS_GLOBAL[virq] ?? false;
    const port = this.virqPort[(global ? 0 : vcpu) * NR_VIRQS + virq];
    if (!port) return;
    this.dom.hv.evtchnSends++;
    const r = this.setPending(port);
    const rec = this.dom.hv.recorder;
    if (rec) rec.virq(this.dom.hv.sim.clock.now, this.dom, virq, port, r);
  }

  /** The port bound to `virq` on `vcpu`, or 0. */
  virqToPort(virq: number, vcpu = 0): number {
    return this.virqPort[((VIRQ_IS_GLOBAL[virq] ?? false) ? 0 : vcpu) * NR_VIRQS + virq] ?? 0;
  }

  /**
   * EVTCHNOP_close. FREE/RESERVED -> -EINVAL. An interdomain peer goes back to
   * UNBOUND, reserved for the closer (so the closer can rebind to it).
   */
  close(port: number): number {
    if (!this.valid(port)) return -XEN_E.EINVAL;
    const s = this.state[port]!;
    if (s === ECS.FREE || s === ECS.RESERVED) return -XEN_E.EINVAL;
    if (s === ECS.INTERDOMAIN) {
      const rd = this.dom.hv.doms[this.remoteDom[port]!];
      const rport = this.remotePort[port]!;
      if (rd) {
        const rc = rd.evtchn;
        if (rc.state[rport] === ECS.INTERDOMAIN && rc.remoteDom[rport] === this.dom.id && rc.remotePort[rport] === port) {
          rd.touch();
          rc.state[rport] = ECS.UNBOUND;
          rc.remoteDom[rport] = this.dom.id;
          rc.remotePort[rport] = 0;
        }
      }
    } else if (s === ECS.VIRQ) {
      const virq = this.virq[port]!;
      const slot = ((VIRQ_IS_GLOBAL[virq] ?? false) ? 0 : this.notify[port]!) * NR_VIRQS + virq;
      if (this.virqPort[slot] === port) this.virqPort[slot] = 0;
    }
    this.free(port);
    return 0;
  }

  /** EVTCHNOP_status (of a port of `dom`: DOMID_SELF, or any domain when privileged). */
  status(port: number, dom: number = DOMID_SELF): EvtchnStatus | number {
    // Xen 4.17 event_channel.c: evtchn_status: the domain (-ESRCH), the port
    // (-EINVAL), a Xen-attached port (-EACCES), then XSM (-EPERM), in that order.
    const t = this.lookup(dom);
    if (typeof t === 'number') return t;
    const ch = t.evtchn;
    if (!ch.valid(port)) return -XEN_E.EINVAL;
    if (ch.consumer[port] !== 0) return -XEN_E.EACCES;
    const denied = this.xsmTarget(t);
    if (denied) return denied;
    const vcpu = ch.notify[port]!;
    switch (ch.state[port]) {
      case ECS.UNBOUND: return { status: EVTCHNSTAT.unbound, vcpu, dom: ch.remoteDom[port]! };
      case ECS.INTERDOMAIN: return { status: EVTCHNSTAT.interdomain, vcpu, dom: ch.remoteDom[port]!, port: ch.remotePort[port]! };
      case ECS.VIRQ: return { status: EVTCHNSTAT.virq, vcpu, virq: ch.virq[port]! };
      case ECS.IPI: return { status: EVTCHNSTAT.ipi, vcpu };
      case ECS.PIRQ: return { status: EVTCHNSTAT.pirq, vcpu };
      default: return { status: EVTCHNSTAT.closed, vcpu };
    }
  }

  /** EVTCHNOP_bind_vcpu: UNBOUND, INTERDOMAIN, PIRQ and global VIRQs may move. */
  bindVcpu(port: number, vcpu: number): number {
    // Xen 4.17 event_channel.c: evtchn_bind_vcpu: the vCPU first (-ENOENT), then the port (-EINVAL).
    if (vcpu >>> 0 !== vcpu || vcpu >= this.dom.vcpus.length) return -XEN_E.ENOENT;
    if (!this.valid(port)) return -XEN_E.EINVAL;
    if (this.consumer[port] !== 0) return -XEN_E.EINVAL;
    const s = this.state[port];
    const ok = s === ECS.UNBOUND || s === ECS.INTERDOMAIN || s === ECS.PIRQ ||
      (s === ECS.VIRQ && (VIRQ_IS_GLOBAL[this.virq[port]!] ?? false));
    if (!ok) return -XEN_E.EINVAL;
    this.dom.touch();
    this.notify[port] = vcpu;
    return 0;
  }

  /**
   * EVTCHNOP_unmask: acts only on a masked -> unmasked transition; then, if
   * pending and the selector bit is newly set, raise the upcall. Unmasking an
   * unmasked port does nothing (a guest that wants a re-raise must re-mask).
   */
  unmask(port: number, actor?: string): number {
    if (!this.valid(port)) return -XEN_E.EINVAL;
    this.dom.touch();
    if (this.fifo !== undefined) {
      const raised = this.usable(port) && this.fifo.unmask(port) === SET_PENDING.raised;
      const rec = this.dom.hv.recorder;
      if (rec) rec.unmask(this.dom.hv.sim.clock.now, actor ?? this.callerName(), this.dom, port, raised);
      return 0;
    }
    const u32 = this.u32;
    const w = port >> 5;
    const b = 1 << (port & 31);
    const m = u32[MASK + w]!;
    const rec = this.dom.hv.recorder;
    if ((m & b) === 0) {
      if (rec) rec.unmask(this.dom.hv.sim.clock.now, actor ?? this.callerName(), this.dom, port, false);
      return 0;
    }
    u32[MASK + w] = m & ~b;
    const raised = (u32[PEND + w]! & b) !== 0 && this.raiseSelector(port) === SET_PENDING.raised;
    if (rec) rec.unmask(this.dom.hv.sim.clock.now, actor ?? this.callerName(), this.dom, port, raised);
    return 0;
  }

  /**
   * The common tail of set_pending and unmask: set the port's selector bit on
   * its notify vCPU and, on that bit's 0 -> 1 edge, mark events pending (which
   * raises the upcall on evtchn_upcall_pending's own 0 -> 1 edge).
   */
  private raiseSelector(port: number): SetPendingResult {
    const u32 = this.u32;
    const v = this.notify[port]!;
    const si = v * STRIDE + SEL + (port >> 11);
    const sb = 1 << ((port >> 6) & 31);
    const s = u32[si]!;
    const vc = this.dom.vcpus[v]!;
    if (vc.upcallVector !== 0 || this.dom.callbackVector !== 0) this.delivered[port] = 1;
    if ((s & sb) !== 0) return SET_PENDING.selectorAlreadySet;
    u32[si] = s | sb;
    vc.markEventsPending();
    return SET_PENDING.raised;
  }

  /** Close every port (domain destruction): peers see their ends go UNBOUND. */
  closeAll(): void {
    for (let p = 1; p < this.nrValid; p++) if (this.state[p]! > ECS.RESERVED) this.close(p);
  }

  /** Ports in use (not FREE, not port 0), ascending. */
  boundPorts(): number[] {
    const out: number[] = [];
    for (let p = 1; p < this.nrValid; p++) if (this.state[p] !== ECS.FREE) out.push(p);
    return out;
  }
}
