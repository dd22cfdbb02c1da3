// Trace only: the Perfetto flow arrows from an EVTCHNOP_send to the upcall
// that consumed it. Kept beside the event-channel rules, not inside them: a
// run without tracing never touches this. Flows of one port are ended
// together, because notifications coalesce (N sends while pending are one
// event). A flow still open when a run hangs is a send nobody consumed
// (src/machine/run_kernel.ts: markHang).
import type { Trace } from '../sim/index.ts';

export class SendFlows {
  /** Flow ids started by sends to each port of this domain, waiting for the upcall. */
  readonly open = new Map<number, number[]>();

  constructor(
    private readonly trace: Trace,
    private readonly domid: number,
  ) {}

  /** A send from (fromDom, vcpu) to this domain's `port`. */
  start(fromDom: number, vcpu: number, port: number): void {
    const id = this.trace.flowStart(fromDom, vcpu, `EVTCHNOP_send ${fromDom}->${this.domid}:${port}`);
    const l = this.open.get(port);
    if (l) l.push(id);
    else this.open.set(port, [id]);
  }

  /** The upcall on `vcpu` consumed `port` (or, port < 0, every port `notifies(p)` says is this vCPU's). */
  end(vcpu: number, port: number, notifies: (p: number) => boolean): void {
    for (const [p, ids] of this.open) {
      if (port >= 0 ? p !== port : !notifies(p)) continue;
      for (const id of ids) this.trace.flowEnd(id, this.domid, vcpu, `upcall port ${p}`);
      this.open.delete(p);
    }
  }

  /** The port was freed. */
  forget(port: number): void {
    this.open.delete(port);
  }
}
