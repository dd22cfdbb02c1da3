// dom0's side of the FIFO event channel ABI, as Linux does it
// (torvalds/linux drivers/xen/events/events_fifo.c): xen_evtchn_fifo_init at
// boot (one zeroed control block per vCPU; on failure the kernel stays on
// 2L, as events_base.c xen_init_IRQ falls back), evtchn_fifo_setup before a
// port is used (event array pages up to the port's, every word preset
// MASKED), unmask with clear_masked_cond, and the consume loop run from the
// upcall. dom0's kernel is host-side TypeScript, so its "hypercalls" are the
// hypervisor's host API (same rules and return codes); its pages are frames
// of dom0's own physmap, taken from the top of its memory (nothing else of
// dom0 lives in its physmap).
//
// Who writes what is in src/abi/evtchn_fifo.ts. The order that matters here:
//  - consume: clear LINKED|LINK first and keep the old LINK as the next head,
//    then look at PENDING/MASKED; then clear PENDING *before* the handler
//    (the irq's ack), so a send during the handler is a new event: Xen sees
//    the port unlinked and links it again.
//  - unmask of a PENDING port goes through Xen (EVTCHNOP_unmask), which
//    links it: clearing MASKED by hand would leave it pending and on no
//    queue until the next send. Since XSA-332 Linux leaves MASKED set for
//    Xen to clear in that case (clear_masked_cond) instead of clearing it
//    first and then asking.
import {
  EVTCHN_FIFO_CONTROL_BLOCK, EVTCHN_FIFO_EVENT_WORDS_PER_PAGE, EVTCHN_FIFO_LINK_MASK,
  EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES, EVTCHN_FIFO_MAX_QUEUES, FIFO_LINKED, FIFO_MASKED, FIFO_PENDING,
} from '../../abi/evtchn_fifo.ts';
import { fifoExpandArray, fifoInitControl, type Domain } from '../../xen/index.ts';

const HEAD = EVTCHN_FIFO_CONTROL_BLOCK.head >> 2;

export class Dom0Fifo {
  /** Per vCPU: its control block (ready @0, head[16] @2). */
  private readonly cbs: Uint32Array[] = [];
  /** Per vCPU: Linux's per-cpu q->head, where the walk of each queue stands. */
  private readonly heads: Uint32Array[] = [];
  /** The event array pages dom0 gave Xen, in order. */
  private readonly pages: Uint32Array[] = [];

  private constructor(private readonly dom: Domain) {}

  /** xen_evtchn_fifo_init: FIFO for `dom`, or undefined (stays 2L) if Xen refuses. */
  static init(dom: Domain): Dom0Fifo | undefined {
    const f = new Dom0Fifo(dom);
    for (const v of dom.vcpus) {
      const gfn = f.controlGfn(v.vcpuId);
      new Uint8Array(dom.physmap.frame(gfn)).fill(0);
      if (fifoInitControl(dom, v.vcpuId, gfn, 0) < 0) return v.vcpuId === 0 ? undefined : f;
      f.cbs.push(new Uint32Array(dom.physmap.frame(gfn), 0, EVTCHN_FIFO_CONTROL_BLOCK.size >> 2));
      f.heads.push(new Uint32Array(EVTCHN_FIFO_MAX_QUEUES));
    }
    return f;
  }

  /** Control block of vCPU v: the top frames of dom0's memory. */
  private controlGfn(v: number): number {
    return this.dom.physmap.nrFrames - 1 - v;
  }

  /** Event array page i: below the control blocks. */
  private arrayGfn(i: number): number {
    return this.dom.physmap.nrFrames - 1 - this.dom.vcpus.length - i;
  }

  /** evtchn_fifo_setup: make sure `port` has an event word (new words start MASKED). 0 or -errno. */
  setup(port: number): number {
    const want = Math.floor(port / EVTCHN_FIFO_EVENT_WORDS_PER_PAGE) + 1;
    if (want > EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES) return -22; // -EINVAL
    while (this.pages.length < want) {
      const gfn = this.arrayGfn(this.pages.length);
      const page = new Uint32Array(this.dom.physmap.frame(gfn));
      page.fill(FIFO_MASKED); // mask all events in this page before adding it
      const rc = fifoExpandArray(this.dom, gfn);
      if (rc < 0) return rc;
      this.pages.push(page);
    }
    return 0;
  }

  /** evtchn_fifo_unmask (clear_masked_cond): a PENDING port is unmasked by Xen, which links it. */
  unmask(port: number): void {
    const pg = this.pages[port >> 10];
    if (pg === undefined) return;
    const w = pg[port & 1023]!;
    if ((w & FIFO_MASKED) === 0) return;
    if (w & FIFO_PENDING) this.dom.evtchn.unmask(port);
    else pg[port & 1023] = w & ~FIFO_MASKED;
  }

  /** evtchn_fifo_mask (unbind: the port must not fire into a stale handler). */
  mask(port: number): void {
    const pg = this.pages[port >> 10];
    if (pg !== undefined) pg[port & 1023] = (pg[port & 1023]! | FIFO_MASKED) >>> 0;
  }

  /**
   * __evtchn_fifo_handle_events for vCPU `v`: walk every ready queue, lowest
   * (highest priority) first, one event at a time, re-reading `ready` after
   * each; `handle(port)` for each port found PENDING and unmasked, after
   * its PENDING was cleared.
   */
  handleEvents(v: number, handle: (port: number) => void): void {
    const cb = this.cbs[v];
    if (cb === undefined) return;
    const heads = this.heads[v]!;
    let ready = cb[0]!;
    cb[0] = 0;
    while (ready !== 0) {
      const q = 31 - Math.clz32(ready & -ready);
      let port = heads[q]!;
      if (port === 0) port = cb[HEAD + q]!; // reached the tail last time: Xen wrote a new head
      const pg = this.pages[port >> 10]!;
      const i = port & 1023;
      const w = pg[i]!;
      pg[i] = (w & ~(FIFO_LINKED | EVTCHN_FIFO_LINK_MASK)) >>> 0; // clear_linked
      const next = w & EVTCHN_FIFO_LINK_MASK;
      if (next === 0) ready &= ~(1 << q);
      const now = pg[i]!;
      if ((now & FIFO_PENDING) !== 0 && (now & FIFO_MASKED) === 0) {
        pg[i] = (now & ~FIFO_PENDING) >>> 0; // the irq's ack
        handle(port);
      }
      heads[q] = next;
      ready |= cb[0]!;
      cb[0] = 0;
    }
  }
}
