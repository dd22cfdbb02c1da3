// The hang report's data: the last steps of the flight recorder
// (src/xen/recorder.ts) laid out as a sequence diagram — one lane per guest
// vCPU, one for Xen, one per dom0 thread that acted — with, after every step,
// the [p/m/s] bits of each of the hung domain's ports and its vCPU's
// upcall_pending, and the steps the numbered interleaving (explain.ts) picked
// marked with their numbers.
//
// What "the bits after every step" can honestly be: the recorder reads one
// port's bits per step (the port the step concerns), so a column shows the
// last value read for that port, at or before that step (`fresh` when this
// very step read it). Earlier steps of the whole ring are replayed first, so
// the window starts with every port the ring has seen; a port not seen yet
// shows as unknown rather than a guess.
import { ECS } from '../../abi/xen.ts';
import type { Hypervisor } from '../../xen/hypervisor.ts';
import { SET_PENDING, type Step } from '../../xen/recorder.ts';
import { describeStep, type Explanation, type PortNamer } from '../explain.ts';

/** Steps shown when nothing asks for more (the last ones before the end of the run). */
export const REPORT_WINDOW = 32;
/** Most rows a report holds: key steps further back are kept, with a gap row before them. */
export const REPORT_MAX_ROWS = 200;

export interface ReportLane {
  id: string;
  /** What the lane header says: `d1 vCPU 0`, `Xen`, `xenstored`. */
  title: string;
  kind: 'vcpu' | 'xen' | 'dom0';
}

export interface ReportCell {
  /** p<<2|m<<1|s, or -1 unknown. */
  bits: number;
  /** This step read the value (otherwise carried from an earlier step). */
  fresh: boolean;
}

export interface ReportRow {
  /** 'gap': steps left out between two shown ones (`skipped` of them). */
  kind: Step['kind'] | 'gap';
  seq: number;
  t: number;
  /** The lane the step happens on (an arrow's tail). */
  lane: string;
  /** An arrow's head, when the step is a call or a delivery between lanes. */
  to?: string;
  /** The diagram's short label. */
  text: string;
  /** The full sentence (explain.ts's words). */
  detail: string;
  /** Its number in the numbered interleaving, if the explanation picked it. */
  key?: number;
  /** One cell per ReportModel.ports, after the step. */
  cells: ReportCell[];
  /** upcall_pending of the hung vCPU after the step (-1 unknown). */
  upcall: ReportCell;
  skipped?: number;
}

export interface ReportModel {
  lanes: ReportLane[];
  /** The hung domain's ports, as column titles: `1 (xenstore)`. */
  ports: { port: number; name: string }[];
  domid: number;
  vcpu: number;
  rows: ReportRow[];
  /** Steps the recorder holds in all, and recorded in the run. */
  held: number;
  total: number;
}

const SEND_SHORT: Record<number, string> = {
  [SET_PENDING.dropped]: 'dropped',
  [SET_PENDING.coalesced]: 'coalesced',
  [SET_PENDING.masked]: 'masked: no upcall',
  [SET_PENDING.selectorAlreadySet]: 'selector already set: no edge',
  [SET_PENDING.raised]: 'raised',
};

/** The short label and the lanes of one step (see the header of the diagram in svg.ts). */
function shape(s: Step): { lane: string; to?: string; text: string } {
  const port = s.port > 0 ? ` port ${s.port}` : '';
  switch (s.kind) {
    case 'door':
      return { lane: s.actor, text: `${s.label}${port ? ` (${port.trim()})` : ''}` };
    case 'irq':
      return { lane: s.actor, text: `takes vector ${s.value} (IF=0)` };
    case 'send':
      return { lane: s.actor, to: 'Xen', text: `send d${s.fromDom}:${s.fromPort} → d${s.domid}${port}: ${SEND_SHORT[s.value] ?? s.value}` };
    case 'virq':
      return { lane: 'Xen', text: `${s.label} → d${s.domid}${port}: ${SEND_SHORT[s.value] ?? s.value}` };
    case 'unmask':
      return { lane: s.actor, to: 'Xen', text: `EVTCHNOP_unmask d${s.domid}${port}: ${s.value ? 're-raised' : 'nothing raised'}` };
    case 'upcall':
      return { lane: 'Xen', to: `d${s.domid}v${s.value}`, text: `upcall_pending 0→1 (${s.label})` };
    case 'timer':
      return { lane: s.actor, to: 'Xen', text: `set_timer_op(${(s.value / 1e6).toFixed(3)} ms)` };
    case 'halt':
      return { lane: s.actor, text: `halted (${s.label})` };
    case 'wake':
      return { lane: 'Xen', to: `d${s.domid}v${s.value}`, text: `wake (${s.label})` };
  }
}

function laneOf(id: string): ReportLane {
  const v = /^d(\d+)v(\d+)$/.exec(id);
  if (v) return { id, title: `d${v[1]} vCPU ${v[2]}`, kind: 'vcpu' };
  if (id === 'Xen') return { id, title: 'Xen', kind: 'xen' };
  // dom0's host API with no thread named (the recorder's actor for dom0 itself).
  if (id === 'd0' || id === '') return { id, title: 'dom0', kind: 'dom0' };
  return { id, title: id, kind: 'dom0' };
}

export interface ReportModelOptions {
  /** The hung domain and vCPU (default: the first explanation's, else the last guest vCPU that acted). */
  domid?: number;
  vcpu?: number;
  window?: number;
}

/** The report's model from the hypervisor's recorder and the explanations of the hang. */
export function buildReportModel(hv: Hypervisor, explanations: Explanation[], name: PortNamer, o: ReportModelOptions = {}): ReportModel {
  const all = hv.recorder?.steps() ?? [];
  const guestActor = [...all].reverse().find((s) => /^d\d+v\d+$/.test(s.actor))?.actor;
  const fromActor = guestActor ? /^d(\d+)v(\d+)$/.exec(guestActor) : null;
  const domid = o.domid ?? explanations[0]?.domid ?? (fromActor ? Number(fromActor[1]) : 1);
  const vcpu = o.vcpu ?? (explanations[0] ? Number(/v(\d+)/.exec(explanations[0].raw.find((s) => /^d\d+v\d+$/.test(s.actor))?.actor ?? 'v0')?.[1] ?? 0) : fromActor ? Number(fromActor[2]) : 0);
  // Each picked step's number in the interleaving (the first explanation that picked it).
  const keys = new Map<number, number>();
  for (const e of explanations) e.raw.forEach((s, i) => keys.has(s.seq) || keys.set(s.seq, i + 1));

  // The domain's ports: bound ones now, plus any the ring mentions.
  const d = hv.domain(domid);
  const portSet = new Set<number>();
  if (d) for (let p = 1; p < Math.min(d.evtchn.state.length, 4096); p++) if (d.evtchn.state[p] !== ECS.FREE) portSet.add(p);
  for (const s of all) if (s.domid === domid && s.port > 0) portSet.add(s.port);
  const ports = [...portSet].sort((a, b) => a - b).slice(0, 16).map((p) => ({ port: p, name: name(domid, p).replace(/^port /, '') }));
  const col = new Map(ports.map((p, i) => [p.port, i]));

  // Which steps are shown: the last `window`, widened back to the first picked step.
  const window = o.window ?? REPORT_WINDOW;
  let start = Math.max(0, all.length - window);
  const firstKey = all.findIndex((s) => keys.has(s.seq));
  if (firstKey >= 0 && firstKey < start) start = Math.max(0, firstKey - 4);
  const shown = new Set<number>();
  for (let i = Math.max(start, all.length - REPORT_MAX_ROWS); i < all.length; i++) shown.add(i);
  all.forEach((s, i) => keys.has(s.seq) && shown.add(i));

  const state: ReportCell[] = ports.map(() => ({ bits: -1, fresh: false }));
  let upcall: ReportCell = { bits: -1, fresh: false };
  const lanes = new Map<string, ReportLane>();
  const rows: ReportRow[] = [];
  let skipped = 0;
  all.forEach((s, i) => {
    for (const c of state) c.fresh = false;
    upcall = { bits: upcall.bits, fresh: false };
    // The state the left-out steps led to, before this one changes it.
    if (shown.has(i) && skipped > 0 && rows.length > 0) rows.push(gapRow(skipped, s, state, upcall));
    const c = s.domid === domid ? col.get(s.port) : undefined;
    if (c !== undefined && s.bits >= 0) state[c] = { bits: s.bits, fresh: true };
    // A step on the hung vCPU, or on one of its domain's ports, read its
    // upcall_pending (a send's is the target's: the guest's own sends to dom0 are not).
    const onVcpu = s.domid === domid && (s.port > 0 || (s.kind === 'upcall' || s.kind === 'wake' ? s.value === vcpu : s.actor === `d${domid}v${vcpu}`));
    if (onVcpu && s.upcallPending >= 0) upcall = { bits: s.upcallPending, fresh: true };
    if (!shown.has(i)) {
      skipped++;
      return;
    }
    skipped = 0;
    const sh = shape(s);
    for (const id of [sh.lane, sh.to]) if (id !== undefined && !lanes.has(id)) lanes.set(id, laneOf(id));
    const row: ReportRow = {
      kind: s.kind, seq: s.seq, t: s.t, lane: sh.lane, text: sh.text, detail: describeStep(s, name),
      cells: state.map((x) => ({ ...x })), upcall: { ...upcall },
    };
    if (sh.to !== undefined) row.to = sh.to;
    const k = keys.get(s.seq);
    if (k !== undefined) row.key = k;
    rows.push(row);
  });
  lanes.set('Xen', laneOf('Xen'));
  // Lanes left to right: the guest's vCPUs, Xen, then dom0's threads in order of appearance.
  const order = (l: ReportLane) => (l.kind === 'vcpu' ? 0 : l.kind === 'xen' ? 1 : 2);
  const laneList = [...lanes.values()].sort((a, b) => order(a) - order(b) || (a.kind === 'vcpu' ? a.id.localeCompare(b.id) : 0));
  return { lanes: laneList, ports, domid, vcpu, rows, held: all.length, total: hv.recorder?.total ?? 0 };
}

function gapRow(n: number, next: Step, state: ReportCell[], upcall: ReportCell): ReportRow {
  return {
    kind: 'gap', seq: next.seq - 1, t: next.t, lane: 'Xen', text: `… ${n} step${n === 1 ? '' : 's'} not shown …`, detail: `${n} recorded steps left out`,
    cells: state.map((x) => ({ bits: x.bits, fresh: false })), upcall: { bits: upcall.bits, fresh: false }, skipped: n,
  };
}

/** `[1/0/1]`, or `?` when unknown. */
export function bitsText(b: number): string {
  return b < 0 ? '?' : `${(b >> 2) & 1}/${(b >> 1) & 1}/${b & 1}`;
}
