// A guest-side FIFO event channel consumer for tests: the Linux side of the
// ABI in miniature (torvalds/linux drivers/xen/events/events_fifo.c), driven
// only through GuestDoors (hypercalls and frames), so it proves delivery
// through the same interface a kernel uses.
//
//   init_control_block  zero the control page and the local heads, then
//                       EVTCHNOP_init_control(gfn, offset 0, vcpu)
//   evtchn_fifo_setup   before binding port p: add array pages up to p / 1024,
//                       every word preset MASKED (a new port must not fire
//                       before its handler exists)
//   unmask              clear_masked_cond (XSA-332): already unmasked ->
//                       nothing; PENDING -> leave MASKED and let Xen unmask
//                       (EVTCHNOP_unmask relinks it); else clear MASKED,
//                       expecting BUSY clear
//   handle_events       ready = xchg(cb->ready, 0); while ready: take the
//                       lowest queue, consume_one_event, ready |= xchg again
//   consume_one_event   head = local head[q] or, at 0, cb->head[q]; clear
//                       LINKED|LINK atomically and keep the old LINK as the
//                       next head (0: queue done, drop q from the local
//                       ready); PENDING && !MASKED -> handle the port
// The "atomic" word updates are single JS statements: nothing of Xen runs
// between two of them (Xen acts only at door calls).
import type { GuestDoors } from '../../src/abi/doors.ts';
import {
  EVTCHN_EXPAND_ARRAY, EVTCHN_FIFO_CONTROL_BLOCK, EVTCHN_FIFO_EVENT_WORDS_PER_PAGE, EVTCHN_FIFO_LINK_BITS,
  EVTCHN_FIFO_LINK_MASK, EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES, EVTCHN_FIFO_MAX_QUEUES, EVTCHN_INIT_CONTROL,
  EVTCHN_SET_PRIORITY, EVTCHNOP_FIFO, FIFO_BUSY, FIFO_LINKED, FIFO_MASKED, FIFO_PENDING,
} from '../../src/abi/evtchn_fifo.ts';
import { EVTCHN_PORT_ARG, EVTCHNOP, HYPERVISOR, PAGE_SIZE } from '../../src/abi/xen.ts';

export interface FifoGuestLayout {
  /** A scratch frame for hypercall structs. */
  argGfn: number;
  /** The control block of vCPU v lives at offset 0 of frame controlGfn + v. */
  controlGfn: number;
  /** Event array page i goes to frame firstArrayGfn + i. */
  firstArrayGfn: number;
}

export class FifoConsumer {
  /** Linux's per-cpu q->head: where the walk of each queue stands. */
  readonly head = new Uint32Array(EVTCHN_FIFO_MAX_QUEUES);
  /** The event array pages (one list per domain: a second vCPU's consumer shares the first one's). */
  private readonly pages: Uint32Array[];
  private cb: Uint32Array | undefined;
  /** Ports handled, in order (bounded by the test's sends). */
  readonly handled: number[] = [];

  /** Run for each handled port, after its PENDING was cleared (the driver's handler). */
  onEvent: (port: number) => void;

  constructor(readonly doors: GuestDoors, readonly layout: FifoGuestLayout, onEvent: (port: number) => void = () => {}, sameDomain?: FifoConsumer) {
    this.onEvent = onEvent;
    this.pages = sameDomain ? sameDomain.pages : [];
  }

  private args(): DataView {
    return new DataView(this.doors.frame(this.layout.argGfn));
  }

  private op(cmd: number): number {
    return this.doors.hypercall(HYPERVISOR.event_channel_op, cmd, this.layout.argGfn * PAGE_SIZE);
  }

  /** init_control_block; returns the hypercall's rc (and checks link_bits on success). */
  initControl(): number {
    const gfn = this.layout.controlGfn + this.doors.vcpuId;
    new Uint8Array(this.doors.frame(gfn)).fill(0);
    this.head.fill(0);
    const a = this.args();
    a.setBigUint64(EVTCHN_INIT_CONTROL.control_gfn, BigInt(gfn), true);
    a.setUint32(EVTCHN_INIT_CONTROL.offset, 0, true);
    a.setUint32(EVTCHN_INIT_CONTROL.vcpu, this.doors.vcpuId, true);
    a.setUint8(EVTCHN_INIT_CONTROL.link_bits, 0);
    const rc = this.op(EVTCHNOP_FIFO.init_control);
    if (rc === 0) {
      if (a.getUint8(EVTCHN_INIT_CONTROL.link_bits) !== EVTCHN_FIFO_LINK_BITS) throw new Error('init_control: link_bits');
      this.cb = new Uint32Array(this.doors.frame(gfn), 0, EVTCHN_FIFO_CONTROL_BLOCK.size >> 2);
    }
    return rc;
  }

  /** evtchn_fifo_setup: array pages up to the one holding `port`; rc of the first failing expand_array, else 0. */
  setup(port: number): number {
    const want = Math.floor(port / EVTCHN_FIFO_EVENT_WORDS_PER_PAGE) + 1;
    if (want > EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES) return -22;
    while (this.pages.length < want) {
      const gfn = this.layout.firstArrayGfn + this.pages.length;
      const page = new Uint32Array(this.doors.frame(gfn));
      page.fill(FIFO_MASKED); // mask all events in this page before adding it
      this.args().setBigUint64(EVTCHN_EXPAND_ARRAY.array_gfn, BigInt(gfn), true);
      const rc = this.op(EVTCHNOP_FIFO.expand_array);
      if (rc < 0) return rc;
      this.pages.push(page);
    }
    return 0;
  }

  get nrPages(): number {
    return this.pages.length;
  }

  word(port: number): number {
    return this.pages[port >> 10]![port & 1023]!;
  }

  private setWord(port: number, w: number): void {
    this.pages[port >> 10]![port & 1023] = w >>> 0;
  }

  mask(port: number): void {
    this.setWord(port, this.word(port) | FIFO_MASKED);
  }

  /** evtchn_fifo_unmask with clear_masked_cond. Throws if Xen left BUSY set (it never should here). */
  unmask(port: number): void {
    const w = this.word(port);
    if ((w & FIFO_MASKED) === 0) return;
    if (w & FIFO_PENDING) {
      this.args().setUint32(EVTCHN_PORT_ARG.port, port, true);
      this.op(EVTCHNOP.unmask);
      return;
    }
    if (w & FIFO_BUSY) throw new Error(`port ${port}: BUSY left set by Xen`);
    this.setWord(port, w & ~FIFO_MASKED);
  }

  setPriority(port: number, priority: number): number {
    const a = this.args();
    a.setUint32(EVTCHN_SET_PRIORITY.port, port, true);
    a.setUint32(EVTCHN_SET_PRIORITY.priority, priority, true);
    return this.op(EVTCHNOP_FIFO.set_priority);
  }

  /** __evtchn_fifo_handle_events for this vCPU. Returns how many ports were handled. */
  handleEvents(): number {
    const cb = this.cb;
    if (!cb) throw new Error('no control block');
    const before = this.handled.length;
    let ready = cb[0]!;
    cb[0] = 0;
    while (ready !== 0) {
      const q = 31 - Math.clz32(ready & -ready);
      ready = this.consumeOne(cb, q, ready);
      ready |= cb[0]!;
      cb[0] = 0;
    }
    return this.handled.length - before;
  }

  private consumeOne(cb: Uint32Array, q: number, ready: number): number {
    let head = this.head[q]!;
    if (head === 0) head = cb[(EVTCHN_FIFO_CONTROL_BLOCK.head >> 2) + q]!; // reached the tail last time: Xen's new head
    const port = head;
    const w = this.word(port);
    this.setWord(port, w & ~(FIFO_LINKED | EVTCHN_FIFO_LINK_MASK)); // clear_linked
    const next = w & EVTCHN_FIFO_LINK_MASK;
    if (next === 0) ready &= ~(1 << q);
    const now = this.word(port);
    if (now & FIFO_PENDING && !(now & FIFO_MASKED)) {
      this.setWord(port, now & ~FIFO_PENDING); // the irq's ack clears pending before the handler runs
      this.handled.push(port);
      this.onEvent(port);
    }
    this.head[q] = next;
    return ready;
  }
}
