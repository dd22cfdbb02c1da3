// Chrome trace event JSON (loads in Perfetto / chrome://tracing).
// pid = domain id (dom0 = 0), tid = vCPU or dom0 thread id; ts is virtual time
// in microseconds (ns / 1000), so the same seed gives a byte-identical file.
// Flows ("s" -> "f") draw an arrow from an EVTCHNOP_send to the upcall that
// consumed it; both ends sit on short "X" slices because Perfetto binds flow
// events to an enclosing slice.
//
// When disabled every method returns at once: tracing costs nothing in benches.

export type TraceArgs = Record<string, string | number | boolean>;

interface TraceEvent {
  name: string;
  cat?: string;
  ph: string;
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: string;
  id?: number;
  bp?: string;
  args?: Record<string, unknown>;
}

export class Trace {
  readonly events: TraceEvent[] = [];
  private readonly named = new Set<string>();
  private nextFlow = 1;

  constructor(
    public enabled: boolean,
    private readonly now: () => number,
  ) {}

  private ts(): number {
    return this.now() / 1000;
  }

  processName(pid: number, name: string): void {
    if (!this.enabled || this.named.has(`p${pid}`)) return;
    this.named.add(`p${pid}`);
    this.events.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name } });
    this.events.push({ name: 'process_sort_index', ph: 'M', pid, tid: 0, args: { sort_index: pid } });
  }

  threadName(pid: number, tid: number, name: string): void {
    if (!this.enabled || this.named.has(`t${pid}.${tid}`)) return;
    this.named.add(`t${pid}.${tid}`);
    this.events.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name } });
  }

  instant(pid: number, tid: number, name: string, args?: TraceArgs, cat = 'xen'): void {
    if (!this.enabled) return;
    this.events.push({ name, cat, ph: 'i', s: 't', ts: this.ts(), pid, tid, ...(args ? { args } : {}) });
  }

  /** A slice of `durNs` starting now (hypercalls, upcalls, loop iterations). */
  slice(pid: number, tid: number, name: string, durNs: number, args?: TraceArgs, cat = 'xen'): void {
    if (!this.enabled) return;
    this.events.push({ name, cat, ph: 'X', ts: this.ts(), dur: Math.max(durNs, 1) / 1000, pid, tid, ...(args ? { args } : {}) });
  }

  /** Start a flow (e.g. at EVTCHNOP_send); returns its id, 0 when disabled. */
  flowStart(pid: number, tid: number, name: string): number {
    if (!this.enabled) return 0;
    const id = this.nextFlow++;
    this.slice(pid, tid, name, 1);
    this.events.push({ name, cat: 'flow', ph: 's', ts: this.ts(), pid, tid, id });
    return id;
  }

  /** End a flow started by flowStart (e.g. at the upcall that consumed the event). */
  flowEnd(id: number, pid: number, tid: number, name: string): void {
    if (!this.enabled || id === 0) return;
    this.slice(pid, tid, name, 1);
    this.events.push({ name, cat: 'flow', ph: 'f', bp: 'e', ts: this.ts(), pid, tid, id });
  }

  /**
   * A global instant (ph "i", scope "g": Perfetto draws it across every lane)
   * at `atNs` (default now): a moment that concerns the whole run, such as
   * the hang verdict at the time the hang was first suspected.
   */
  mark(name: string, args?: TraceArgs, atNs?: number, cat = 'verdict'): void {
    if (!this.enabled) return;
    this.events.push({ name, cat, ph: 'i', s: 'g', ts: (atNs ?? this.now()) / 1000, pid: 0, tid: 0, ...(args ? { args } : {}) });
  }

  counter(pid: number, name: string, values: Record<string, number>): void {
    if (!this.enabled) return;
    this.events.push({ name, ph: 'C', ts: this.ts(), pid, tid: 0, args: values });
  }

  toJSON(): string {
    return JSON.stringify({ traceEvents: this.events, displayTimeUnit: 'ns' });
  }
}
