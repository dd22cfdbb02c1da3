// FIFO event channels (Xen 4.4+), with Xen's exact rules: xen/common/
// event_fifo.c (the port ops, init_control, expand_array) and the FIFO parts
// of event_channel.c (set_priority, reset), Xen 4.17. The ABI and who
// writes which bit: src/abi/evtchn_fifo.ts.
//
// A domain switches to FIFO with its first successful EVTCHNOP_init_control
// (EventChannels.fifo is set, the channel table stays) and back to 2L only
// with EVTCHNOP_reset. Xen maps the guest's pages (get_page + a global
// mapping), so we keep the ArrayBuffers physmap had at those gfns: a later
// remap of the gfn by the guest does not move what Xen writes, as in Xen.
//
// What xenode does not need from event_fifo.c, and why: the queue locks and
// the "lost event (too many queue changes)" retry (nothing runs between two
// statements of one of our operations: guests act only at door calls), and
// the cmpxchg retries of evtchn_fifo_set_link (for the same reason our
// compare always succeeds on the first try, so BUSY is never left set; it is
// still honoured where Xen reads it).
//
// Why each rule matters:
//  - set_pending links a port only if it is unmasked and not yet LINKED, and
//    raises the upcall only when the port became the head of an empty queue
//    and the queue's `ready` bit was clear: the guest walks a queue to its
//    end, so one upcall per empty -> non-empty transition is enough.
//  - a port without an event word keeps its pending state in Xen
//    (evtchn->pending), delivered when the guest adds the page.
//  - unmask relinks a pending port (the edge a masked port lost comes back).
//  - set_pending links any unmasked, unlinked port, pending or not: unlike
//    2L, where a send to a pending port stops at once and [1/0/0] stays
//    wedged, a port left pending and unmasked on no queue (a guest that
//    cleared MASKED by hand) is picked up by its next event.
//  - a FREE port still LINKED is not reallocated (EventChannels.findFree).
import {
  EVTCHN_FIFO_CONTROL_BLOCK, EVTCHN_FIFO_EVENT_WORDS_PER_PAGE, EVTCHN_FIFO_LINK_BITS, EVTCHN_FIFO_LINK_MASK,
  EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES, EVTCHN_FIFO_MAX_QUEUES, EVTCHN_FIFO_PRIORITY_DEFAULT, EVTCHN_FIFO_PRIORITY_MIN,
  FIFO_BUSY, FIFO_LINKED, FIFO_MASKED, FIFO_PENDING,
} from '../abi/evtchn_fifo.ts';
import { DOMID_SELF, PAGE_SIZE, SHARED_INFO_U32, XEN_E } from '../abi/xen.ts';
import type { Domain } from './domain.ts';
import { NR_PORTS } from './evtchn_table.ts';
import { SET_PENDING, type SetPendingResult } from './recorder.ts';

const NQ = EVTCHN_FIFO_MAX_QUEUES;
const HEAD = EVTCHN_FIFO_CONTROL_BLOCK.head >> 2;
const READY = EVTCHN_FIFO_CONTROL_BLOCK.ready >> 2;
const WORDS_SHIFT = 10; // log2(EVTCHN_FIFO_EVENT_WORDS_PER_PAGE)

/**
 * The per-port operations of one ABI (Xen: struct evtchn_port_ops). FIFO
 * implements them here; the 2L ones stay inline in EventChannels (its hot
 * path), which calls these when `fifo` is set.
 */
export interface EvtchnPortOps {
  /** evtchn_port_init: a port was just bound. */
  initPort(port: number): void;
  /** set_pending on vCPU `vcpu` (the channel's notify vCPU); the caller checked "usable". */
  setPending(vcpu: number, port: number): SetPendingResult;
  clearPending(port: number): void;
  /** unmask (EVTCHNOP_unmask on a usable port): what the relink did (dropped: nothing to relink). */
  unmask(port: number): SetPendingResult;
  isPending(port: number): boolean;
  isMasked(port: number): boolean;
  /** is_busy: the port must not be reallocated yet. */
  isBusy(port: number): boolean;
  /** The third field of the 'e' dump's [p/m/s]. */
  printState(port: number): string;
}

export class EvtchnFifo implements EvtchnPortOps {
  /** Event array pages (views of the guest frames Xen mapped), in order. */
  private readonly pages: Uint32Array[] = [];
  /** num_evtchns: ports below this have an event word. */
  numEvtchns = 0;
  /** Per vCPU: its control block (18 words: ready, _rsvd, head[16]) or undefined. */
  readonly controlBlocks: (Uint32Array | undefined)[];
  /** Per vCPU and queue, at [vcpu * 16 + priority]: the tail port (Xen's private q->tail). */
  readonly tails: Uint32Array;
  // Per port (grown with the channel table): evtchn->priority, fifo_lastq
  // (the vCPU and priority of the queue it was last linked on), and
  // evtchn->pending (set while the port has no event word). Xen never resets
  // lastq or pending when a port is freed; neither do we.
  priority = new Uint8Array(0);
  lastVcpu = new Uint8Array(0);
  lastPrio = new Uint8Array(0);
  pendingNoWord = new Uint8Array(0);
  /**
   * Events dropped because the notify vCPU has no control block. Xen logs
   * each with a rate-limited printk; xenode logs the first per domain (the
   * hypervisor console is unbounded) and counts the rest here.
   */
  noControlBlockDrops = 0;
  /** Ports bound while still LINKED (Xen: a gdprintk, debug builds only; counted, not logged). */
  boundWhileLinked = 0;

  constructor(private readonly dom: Domain, capacity: number) {
    this.controlBlocks = dom.vcpus.map(() => undefined);
    this.tails = new Uint32Array(dom.vcpus.length * NQ);
    this.grow(capacity);
  }

  /** The per-port arrays follow the channel table's capacity. */
  grow(cap: number): void {
    const g = (a: Uint8Array) => {
      const b = new Uint8Array(cap);
      b.set(a.subarray(0, Math.min(a.length, cap)));
      return b;
    };
    this.priority = g(this.priority);
    this.lastVcpu = g(this.lastVcpu);
    this.lastPrio = g(this.lastPrio);
    this.pendingNoWord = g(this.pendingNoWord);
  }

  // ---- the event word (evtchn_fifo_word_from_port) ----

  /** The page holding port's word, or undefined (port >= num_evtchns). Word index: port & 1023. */
  private page(port: number): Uint32Array | undefined {
    return port < this.numEvtchns ? this.pages[port >> WORDS_SHIFT] : undefined;
  }

  /** The event word of `port` (0 if it has none): for tests and the dump. */
  word(port: number): number {
    const pg = this.page(port);
    return pg === undefined ? 0 : pg[port & 1023]!;
  }

  // ---- the port ops ----

  initPort(port: number): void {
    this.priority[port] = EVTCHN_FIFO_PRIORITY_DEFAULT;
    // "If this event is still linked, the first event may be delivered on the
    // wrong VCPU or with an unexpected priority." (findFree skips busy ports,
    // so only a guest that set LINKED itself gets here.)
    if (this.isBusy(port)) this.boundWhileLinked++;
  }

  /**
   * evtchn_fifo_set_pending(v, evtchn): PENDING; then, if unmasked and not
   * LINKED, LINKED and append to v's queue for the port's priority (the old
   * queue's tail is dropped if the port was it); the upcall only when the
   * port became a head (queue was empty) and `ready` bit prio was clear.
   * For the flight recorder, in 2L's words: masked = left off the queues
   * (MASKED, no word, or no control block); coalesced = already pending and
   * left as it was; selectorAlreadySet = queued, but no new upcall (behind a
   * tail, or `ready` bit already set); raised = upcall marked.
   */
  setPending(vcpu: number, port: number): SetPendingResult {
    const pg = this.page(port);
    if (pg === undefined) {
      this.pendingNoWord[port] = 1; // delivered by expand_array
      return SET_PENDING.masked;
    }
    const w = port & 1023;
    const prio = this.priority[port]!;
    const q = vcpu * NQ + prio;
    const oldQ = this.lastVcpu[port]! * NQ + this.lastPrio[port]!;
    const before = pg[w]!;
    const wasPending = (before & FIFO_PENDING) !== 0;
    pg[w] = (before | FIFO_PENDING) >>> 0;
    let linked = true;
    let r: SetPendingResult = wasPending ? SET_PENDING.coalesced : SET_PENDING.masked;
    const cb = this.controlBlocks[vcpu];
    if (cb === undefined) {
      // "The guest must not unmask an event until the control block is
      // initialized, so we can just drop the event."
      if (this.noControlBlockDrops++ === 0) this.dom.hv.xenLog(`d${this.dom.id}v${vcpu} has no FIFO event channel control block`);
    } else if ((before & FIFO_LINKED) !== 0 && (before & FIFO_MASKED) === 0) {
      r = wasPending ? SET_PENDING.coalesced : SET_PENDING.selectorAlreadySet;
    } else if ((before & (FIFO_MASKED | FIFO_LINKED)) === 0) {
      r = SET_PENDING.selectorAlreadySet;
      pg[w] = (pg[w]! | FIFO_LINKED) >>> 0;
      // If it was the old queue's tail, that queue is empty now: a stale tail
      // would let the next event of the old queue link behind us.
      if (this.tails[oldQ] === port) this.tails[oldQ] = 0;
      if (oldQ !== q) {
        this.lastVcpu[port] = vcpu;
        this.lastPrio[port] = prio;
      }
      linked = false;
      const tail = this.tails[q]!;
      if (tail !== 0) linked = this.setLink(tail, port);
      if (!linked) cb[HEAD + prio] = port;
      this.tails[q] = port;
      const vc = this.dom.vcpus[vcpu]!;
      if (vc.upcallVector !== 0 || this.dom.callbackVector !== 0) this.dom.evtchn.delivered[port] = 1;
    }
    if (!linked && cb !== undefined) {
      const bit = 1 << prio;
      const rd = cb[READY]!;
      if ((rd & bit) === 0) {
        cb[READY] = rd | bit;
        this.dom.vcpus[vcpu]!.markEventsPending();
        r = SET_PENDING.raised;
      }
    }
    if (!wasPending && this.dom.pollMask !== 0) this.dom.checkPollers(port);
    return r;
  }

  /**
   * evtchn_fifo_set_link: make the tail word point at `port`, iff it is still
   * LINKED (else the guest already took it off: the queue is empty and the
   * caller writes head). Clears BUSY with the same write, as the cmpxchg does.
   */
  private setLink(tail: number, port: number): boolean {
    const pg = this.pages[tail >> WORDS_SHIFT]!;
    const w = tail & 1023;
    const old = pg[w]!;
    if ((old & FIFO_LINKED) === 0) return false;
    pg[w] = ((old & ~(FIFO_BUSY | EVTCHN_FIFO_LINK_MASK)) | port) >>> 0;
    return true;
  }

  /** evtchn_fifo_clear_pending: only PENDING ("the guest will unlink and ignore non-pending events"). */
  clearPending(port: number): void {
    const pg = this.page(port);
    if (pg !== undefined) pg[port & 1023] = (pg[port & 1023]! & ~FIFO_PENDING) >>> 0;
  }

  /** Guest-side write (host domains and tests): set MASKED. */
  mask(port: number): void {
    const pg = this.page(port);
    if (pg !== undefined) pg[port & 1023] = (pg[port & 1023]! | FIFO_MASKED) >>> 0;
  }

  /** evtchn_fifo_unmask: clear MASKED; relink if pending (on the notify vCPU). */
  unmask(port: number): SetPendingResult {
    const pg = this.page(port);
    if (pg === undefined) return SET_PENDING.dropped;
    const w = (pg[port & 1023]! & ~FIFO_MASKED) >>> 0;
    pg[port & 1023] = w;
    return w & FIFO_PENDING ? this.setPending(this.dom.evtchn.notify[port]!, port) : SET_PENDING.dropped;
  }

  isPending(port: number): boolean {
    const pg = this.page(port);
    return pg !== undefined && (pg[port & 1023]! & FIFO_PENDING) !== 0;
  }

  /** A port without an event word reads masked. */
  isMasked(port: number): boolean {
    const pg = this.page(port);
    return pg === undefined || (pg[port & 1023]! & FIFO_MASKED) !== 0;
  }

  /** is_busy = LINKED. */
  isBusy(port: number): boolean {
    const pg = this.page(port);
    return pg !== undefined && (pg[port & 1023]! & FIFO_LINKED) !== 0;
  }

  /** evtchn_fifo_print_state: "?     ", "%c %-4u" (linked: B if busy, then LINK) or "%c -   ". */
  printState(port: number): string {
    const pg = this.page(port);
    if (pg === undefined) return '?     ';
    const w = pg[port & 1023]!;
    const b = w & FIFO_BUSY ? 'B' : ' ';
    if (w & FIFO_LINKED) return `${b} ${String(w & EVTCHN_FIFO_LINK_MASK).padEnd(4)}`;
    return `${b} -   `;
  }

  /** evtchn_fifo_set_priority (after the usable check): future events only. */
  setPriority(port: number, priority: number): number {
    if (priority >>> 0 !== priority || priority > EVTCHN_FIFO_PRIORITY_MIN) return -XEN_E.EINVAL;
    // "If the event is already pending or in the process of being linked it
    // will be on the old queue -- this is fine."
    this.priority[port] = priority;
    return 0;
  }

  // ---- setup (init_control, expand_array) ----

  /** map_control_block: -EINVAL if the vCPU has one, or the gfn is not guest RAM. */
  mapControlBlock(vcpu: number, gfn: number, offset: number): number {
    if (this.controlBlocks[vcpu] !== undefined) return -XEN_E.EINVAL;
    const pm = this.dom.physmap;
    if (!pm.validGpfn(gfn)) return -XEN_E.EINVAL;
    this.controlBlocks[vcpu] = new Uint32Array(pm.frame(gfn), offset, EVTCHN_FIFO_CONTROL_BLOCK.size >> 2);
    return 0;
  }

  /** add_page_to_event_array: the next 1024 ports get words; re-raise the ones pending meanwhile. */
  addPage(gfn: number): number {
    const slot = this.numEvtchns / EVTCHN_FIFO_EVENT_WORDS_PER_PAGE;
    if (slot >= EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES) return -XEN_E.ENOSPC;
    const pm = this.dom.physmap;
    if (!pm.validGpfn(gfn)) return -XEN_E.EINVAL;
    this.pages.push(new Uint32Array(pm.frame(gfn)));
    const first = this.numEvtchns;
    this.numEvtchns += EVTCHN_FIFO_EVENT_WORDS_PER_PAGE;
    const ch = this.dom.evtchn;
    const end = Math.min(this.numEvtchns, ch.nrValid);
    for (let port = first; port < end; port++) {
      if (this.pendingNoWord[port]) this.setPending(ch.notify[port]!, port);
    }
    return 0;
  }
}

/**
 * EVTCHNOP_init_control (evtchn_fifo_init_control), for the calling domain
 * `d`: map vCPU `vcpu`'s control block at `offset` in frame `gfn`. The first
 * successful call switches the domain to FIFO: every vCPU gets 16 empty
 * queues, the event array starts empty, and every bound port keeps its 2L
 * pending bit (delivered once its array page is added) at the default
 * priority (setup_ports). A failed first call leaves the domain on 2L.
 * Returns 0 (the caller writes link_bits = 17 back) or -errno:
 * -ENOENT bad vCPU; -EINVAL offset not 8-aligned or past 4096 - 72, vCPU
 * already has a block, gfn not guest RAM.
 */
export function fifoInitControl(d: Domain, vcpu: number, gfn: number, offset: number): number {
  if (vcpu >>> 0 !== vcpu || vcpu >= d.vcpus.length) return -XEN_E.ENOENT;
  if (offset >>> 0 !== offset || offset > PAGE_SIZE - EVTCHN_FIFO_CONTROL_BLOCK.size) return -XEN_E.EINVAL;
  if ((offset & 7) !== 0) return -XEN_E.EINVAL;
  const ch = d.evtchn;
  if (ch.fifo !== undefined) return ch.fifo.mapControlBlock(vcpu, gfn, offset);
  const prev = ch.nrValid; // latched before the switch
  const fifo = new EvtchnFifo(d, ch.state.length);
  const rc = fifo.mapControlBlock(vcpu, gfn, offset);
  if (rc < 0) return rc; // evtchn_fifo_destroy: nothing was switched
  ch.fifo = fifo;
  // setup_ports: save each port's 2L pending bit, set the default priority.
  const u32 = d.shared.u32;
  for (let port = 1; port < prev; port++) {
    if ((u32[SHARED_INFO_U32.pending + (port >> 5)]! >>> (port & 31)) & 1) fifo.pendingNoWord[port] = 1;
    fifo.priority[port] = EVTCHN_FIFO_PRIORITY_DEFAULT;
  }
  return 0;
}

/** The link_bits init_control reports. */
export const FIFO_LINK_BITS = EVTCHN_FIFO_LINK_BITS;

/** EVTCHNOP_expand_array: -EOPNOTSUPP on 2L; -ENOSPC after 128 pages; -EINVAL bad gfn. */
export function fifoExpandArray(d: Domain, gfn: number): number {
  const fifo = d.evtchn.fifo;
  if (fifo === undefined) return -XEN_E.EOPNOTSUPP;
  return fifo.addPage(gfn);
}

/**
 * EVTCHNOP_set_priority (event_channel.c evtchn_set_priority, then
 * evtchn_port_set_priority): -EINVAL bad port; -ENOSYS on 2L; -EACCES port
 * not usable; -EINVAL priority > 15.
 */
export function fifoSetPriority(d: Domain, port: number, priority: number): number {
  const ch = d.evtchn;
  if (!ch.valid(port)) return -XEN_E.EINVAL;
  if (ch.fifo === undefined) return -XEN_E.ENOSYS;
  if (!ch.usable(port)) return -XEN_E.EACCES;
  return ch.fifo.setPriority(port, priority);
}

/**
 * EVTCHNOP_reset (event_channel.c evtchn_reset), called by `caller` on `dom`
 * (DOMID_SELF, or a domain its privileged controller has paused): close
 * every port and, under FIFO, drop the control blocks and the event array:
 * back to 2L, the only way back. -EPERM not ours and unprivileged; -ESRCH no
 * such domain; -EINVAL another domain that is not paused. Xen answers
 * -EAGAIN if a Xen-consumer port stays open (xenode has none).
 */
export function evtchnReset(caller: Domain, dom: number): number {
  let d: Domain | undefined = caller;
  if (dom !== DOMID_SELF && dom !== caller.id) {
    if (!caller.privileged) return -XEN_E.EPERM;
    d = caller.hv.domain(dom);
    if (d === undefined) return -XEN_E.ESRCH;
    if (!d.paused) return -XEN_E.EINVAL;
  }
  const ch = d.evtchn;
  ch.closeAll();
  if (ch.fifo !== undefined) {
    ch.fifo = undefined; // evtchn_fifo_destroy + evtchn_2l_init
    // Xen keeps valid_evtchns; every port above 4095 is FREE now, and
    // xenode's 2L ops index shared_info by port, so they become invalid
    // again (an op on one: -EINVAL where Xen does nothing and returns 0).
    ch.nrValid = Math.min(ch.nrValid, NR_PORTS);
  }
  return 0;
}
