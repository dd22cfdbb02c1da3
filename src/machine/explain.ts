// Why a run hung: the numbered interleaving that lost the event, rebuilt from
// the hypervisor's flight recorder (src/xen/recorder.ts) for each suspect the
// hang oracle found (src/xen/oracle.ts). Nothing here is a template: every
// line is a recorded step (who, what, the port's [p/m/s] bits it left), picked
// by the rule of its bug class:
//
//   wedged [1/0/0]          the send that found the port masked (pending set,
//                           no selector), the unmask that cleared the mask and
//                           did not re-raise it, the sends that coalesced,
//                           the hlt. Solo5 f4b47d1 evtchn_unmask; fixed in
//                           df0b6b5 (Linux events_2l.c: evtchn_2l_unmask).
//   lost interrupt [1/0/1]  the block check that read upcall_pending = 0, the
//   + upcall_pending=1      send that raised the upcall after it, the vector
//                           taken and EOI'd before hlt, the hlt that slept, and
//                           the timer that fired without a new edge. Solo5
//                           solo5_yield before 8bf0bff; fixed by cli; check;
//                           sti; hlt (mirage-xen evtchn_block_domain).
//   masked after delivery   the main loop's demux that found nothing, the send
//   [1/1/0]                 whose upcall was taken before cli, the handler's
//                           own demux that masked the port and cleared
//                           upcall_pending, the block check it fooled, hlt.
//   storm                   the level-triggered callback re-injected while
//                           upcall_pending stays 1 (f4b47d1's CALLBACK_IRQ
//                           type 2 with a handler that only EOIs); fixed by the
//                           per-vCPU vector (Solo5 8e1beb7).

import type { Hypervisor } from '../xen/hypervisor.ts';
import { suspects, type Suspect } from '../xen/oracle.ts';
import { SET_PENDING, type Step } from '../xen/recorder.ts';

export interface Explanation {
  /** e.g. `wedged`, `lost-interrupt`, `masked-after-delivery`, `storm`. */
  kind: Suspect['kind'];
  domid: number;
  ports: number[];
  /** One line: what the dump shows and what it means. */
  title: string;
  /** The bug class, named after its upstream history. */
  bug: string;
  /**
   * The numbered interleaving, one line per step (already numbered), each
   * stamped with the virtual time the recorder took for it (Step.t).
   */
  steps: string[];
  /** Why several steps share one stamp, when they do (sameInstantNote); printed under the steps. */
  timeNote?: string;
  /** The recorded steps those lines came from. */
  raw: Step[];
  fix: string;
}

const bits = (b: number) => (b < 0 ? '' : `[${(b >> 2) & 1}/${(b >> 1) & 1}/${b & 1}]`);
const ms = (t: number) => `${(t / 1e6).toFixed(6)} ms`;

const SEND_RESULT: Record<number, string> = {
  [SET_PENDING.dropped]: 'dropped (port not bound)',
  [SET_PENDING.coalesced]: 'already pending: coalesced, nothing raised',
  [SET_PENDING.masked]: 'pending 0 -> 1, but the port is masked: no selector bit, no upcall (the edge is lost until an unmask re-raises it)',
  [SET_PENDING.selectorAlreadySet]: 'pending 0 -> 1, selector already set: no new edge (upcall_pending stays as it is)',
  [SET_PENDING.raised]: 'pending 0 -> 1, selector 0 -> 1: upcall_pending set, the upcall is raised',
};

/** One step in words (who: what; the port's bits after). */
export function describeStep(s: Step, portName: (domid: number, port: number) => string): string {
  const who = s.actor;
  const p = s.port > 0 ? `${portName(s.domid, s.port)}` : '';
  switch (s.kind) {
    case 'door': {
      const state = s.port > 0 ? ` — ${p} reads ${bits(s.bits)}` : s.upcallPending >= 0 ? ` — upcall_pending=${s.upcallPending}` : '';
      return `${who}: ${s.label}${state}`;
    }
    case 'irq':
      return `${who}: takes the upcall (vector ${s.value}); the handler runs with IF=0`;
    case 'send':
      return `${who}: EVTCHNOP_send (d${s.fromDom} port ${s.fromPort}) -> d${s.domid} ${p}: ${SEND_RESULT[s.value] ?? s.value} ${bits(s.bits)}`;
    case 'virq':
      return `Xen: ${s.label} fires -> d${s.domid} ${p}: ${SEND_RESULT[s.value] ?? s.value} ${bits(s.bits)}`;
    case 'unmask':
      return `${who}: EVTCHNOP_unmask ${p}: ${s.value ? 're-raised (selector and upcall)' : 'nothing to re-raise'} ${bits(s.bits)}`;
    case 'upcall':
      return `Xen: d${s.domid}v${s.value} evtchn_upcall_pending 0 -> 1 (${s.label})`;
    case 'timer':
      return `${who}: set_timer_op(${ms(s.value)})`;
    case 'halt':
      return `${who}: halted (${s.label}), upcall_pending=${s.upcallPending}`;
    case 'wake':
      return `Xen: d${s.domid}v${s.value} woken (${s.label})`;
  }
}

/** Explanations for every suspect of the hang, most telling first. */
export function explainHang(hv: Hypervisor, namer?: PortNamer): Explanation[] {
  const rec = hv.recorder;
  const steps = rec ? rec.steps() : [];
  const out: Explanation[] = [];
  for (const d of hv.domains()) {
    for (const s of suspects(d, hv.sim.clock.now)) {
      const e = explainSuspect(hv, s, steps, namer ?? defaultNamer(hv));
      if (e) out.push(e);
    }
  }
  return out;
}

/** A port's name for people: `port 4 (netfront)` when the guest's xenstore says what it is. */
export type PortNamer = (domid: number, port: number) => string;

function explainSuspect(hv: Hypervisor, s: Suspect, all: Step[], name: PortNamer = defaultNamer(hv)): Explanation | undefined {
  const mine = all.filter((x) => x.domid === s.domid);
  const actor = `d${s.domid}v${s.vcpu}`;
  const pick: Step[] = [];
  let title = s.line;
  let bug = '';
  let fix = '';
  const lastIdx = (pred: (x: Step) => boolean, before = mine.length) => {
    for (let i = before - 1; i >= 0; i--) if (pred(mine[i]!)) return i;
    return -1;
  };
  const firstIdx = (pred: (x: Step) => boolean, after = -1) => {
    for (let i = after + 1; i < mine.length; i++) if (pred(mine[i]!)) return i;
    return -1;
  };
  const hlt = lastIdx((x) => x.kind === 'halt' && x.actor === actor);
  if (s.kind === 'wedged') {
    const port = s.ports[0]!;
    const onPort = (x: Step) => x.port === port;
    // The send that found the port masked, the last one before the unmask that lost it.
    const unmaskTest = lastIdx((x) => x.kind === 'door' && x.actor === actor && onPort(x) && x.label.startsWith('unmask:test'));
    const masked = lastIdx((x) => (x.kind === 'send' || x.kind === 'virq') && onPort(x) && x.value === SET_PENDING.masked, unmaskTest < 0 ? mine.length : unmaskTest);
    const demuxMask = lastIdx((x) => x.kind === 'door' && x.actor === actor && onPort(x) && x.label.endsWith('demux:mask port'), masked < 0 ? mine.length : masked);
    if (demuxMask >= 0) pick.push(mine[demuxMask]!);
    if (masked >= 0) pick.push(mine[masked]!);
    const clear = lastIdx((x) => x.kind === 'door' && x.actor === actor && onPort(x) && x.label === 'unmask:clear mask', unmaskTest < 0 ? mine.length : unmaskTest);
    if (clear >= 0 && clear > masked) pick.push(mine[clear]!);
    if (unmaskTest >= 0) pick.push(mine[unmaskTest]!);
    const hyper = firstIdx((x) => x.kind === 'unmask' && onPort(x), unmaskTest);
    // Later sends to the port: coalesced.
    const later = mine.filter((x, i) => i > unmaskTest && x.kind === 'send' && onPort(x) && x.value === SET_PENDING.coalesced);
    if (later.length > 0) pick.push(later[0]!);
    if (hlt >= 0) pick.push(...blockSteps(mine, hlt, actor));
    title = `${name(s.domid, port)} of domain ${s.domid} is wedged [1/0/0]: pending, unmasked, selector clear — no send can raise it again; only a demux of its word for another port (a timer's) picks it up`;
    bug = hyper >= 0 && hyper > unmaskTest
      ? 'wedged port (the unmask re-raised it, yet it is wedged: look at the steps)'
      : 'wedged port: evtchn_unmask did not re-check pending after clearing the mask (Solo5 f4b47d1 bindings/xen/evtchn.c), so the event that arrived while the port was masked was never re-raised';
    fix = 'unmask must clear the mask, then test the PENDING bit and, if set, re-mask and call EVTCHNOP_unmask so Xen sees masked -> unmasked and re-raises it (Solo5 df0b6b5; Linux events_2l.c: evtchn_2l_unmask)';
    if (later.length > 1) title += ` (${later.length} later sends coalesced)`;
  } else if (s.kind === 'lost-interrupt') {
    const check = lastIdx((x) => x.kind === 'door' && x.actor === actor && x.label === 'block:check upcall_pending', hlt < 0 ? mine.length : hlt);
    const raised = firstIdx((x) => (x.kind === 'send' || x.kind === 'virq') && x.value === SET_PENDING.raised, check);
    const upcall = firstIdx((x) => x.kind === 'upcall', check);
    const irq = firstIdx((x) => x.kind === 'irq' && x.actor === actor, check);
    const eoi = firstIdx((x) => x.kind === 'door' && x.actor === actor && x.label === 'eoi', irq);
    const lastHlt = lastIdx((x) => x.kind === 'door' && x.actor === actor && x.label === 'hlt', hlt < 0 ? mine.length : hlt + 1);
    for (const i of [check, raised, upcall, irq, eoi, lastHlt, hlt]) if (i >= 0) pick.push(mine[i]!);
    // What happened to the vCPU afterwards: sends and timers that found upcall_pending already set.
    const after = mine.filter((x, i) => i > hlt && (x.kind === 'send' || x.kind === 'virq') && x.value !== SET_PENDING.raised);
    const timer = after.find((x) => x.kind === 'virq');
    if (after[0] && after[0] !== timer) pick.push(after[0]);
    if (timer) pick.push(timer);
    const ps = s.ports.map((p) => name(s.domid, p)).join(', ');
    title = `domain ${s.domid} sleeps with upcall_pending=1 and ${ps} [1/0/1]: the upcall was taken and EOI'd before hlt, so nothing is left to wake the vCPU${timer ? ' (still halted after VIRQ_TIMER fired)' : ''}`;
    bug = 'lost interrupt: "check, then hlt" with IF=1 (Solo5 solo5_yield before 8bf0bff): the event arrived after the check and its upcall was consumed before hlt; with the per-vCPU vector Xen does not consult upcall_pending when the vCPU halts';
    fix = 'block with interrupts off: cli; if upcall_pending then sti and return; set_timer_op(deadline); sti; hlt — the one-instruction STI shadow covers hlt, so an upcall pending by then wakes it (mirage-xen evtchn_block_domain; Solo5 8bf0bff)';
  } else if (s.kind === 'masked-after-delivery') {
    const port = s.ports[0]!;
    const check = lastIdx((x) => x.kind === 'door' && x.actor === actor && x.label === 'block:check upcall_pending', hlt < 0 ? mine.length : hlt);
    const irqDemux = lastIdx((x) => x.kind === 'door' && x.actor === actor && x.port === port && x.label === 'irq:demux:mask port', check < 0 ? mine.length : check);
    const irq = lastIdx((x) => x.kind === 'irq' && x.actor === actor, irqDemux < 0 ? mine.length : irqDemux);
    const raised = lastIdx((x) => (x.kind === 'send' || x.kind === 'virq') && x.value === SET_PENDING.raised, irq < 0 ? mine.length : irq);
    const mainDemux = lastIdx((x) => x.kind === 'door' && x.actor === actor && x.label === 'demux:clear upcall_pending', raised < 0 ? mine.length : raised);
    const clearUp = firstIdx((x) => x.kind === 'door' && x.actor === actor && x.label === 'irq:demux:clear upcall_pending', irq);
    for (const i of [mainDemux, raised, irq, clearUp, irqDemux, check]) if (i >= 0) pick.push(mine[i]!);
    if (hlt >= 0) pick.push(...blockSteps(mine, hlt, actor).filter((x) => x.label !== 'block:check upcall_pending'));
    const later = mine.find((x, i) => i > hlt && x.kind === 'send' && x.port === port);
    if (later) pick.push(later);
    title = `${name(s.domid, port)} of domain ${s.domid} stays masked [1/1/0] with its shadow set: the interrupt handler demuxed it and cleared upcall_pending, so the block check saw nothing`;
    bug = 'handler clears upcall_pending: demux in interrupt context (Solo5\'s default vector handler, Mini-OS do_hypervisor_callback) hides an event taken between the main loop\'s demux and cli from the block check';
    fix = 'the vector handler only EOIs; only the main loop\'s demux clears upcall_pending, before it swaps the selector, and the block check then sees every event since (mirage-xen lib/bindings/evtchn.c)';
  } else {
    const irqs = mine.filter((x) => x.kind === 'irq' && x.actor === actor);
    const up = lastIdx((x) => x.kind === 'upcall');
    if (up >= 0) pick.push(mine[up]!);
    if (irqs.length > 0) pick.push(irqs[0]!, irqs[irqs.length - 1]!);
    const h = lastIdx((x) => x.kind === 'halt' && x.actor === actor);
    if (h >= 0) pick.push(mine[h]!);
    title = `domain ${s.domid} vCPU ${s.vcpu} is livelocked: the callback vector is re-injected at every VM entry while upcall_pending=1, and the guest never runs the demux that would clear it`;
    bug = 'upcall storm: the global callback vector (HVM_PARAM_CALLBACK_IRQ type 2, Solo5 f4b47d1) is level-triggered; with a handler that only EOIs it re-enters forever (iret opens no interrupt shadow)';
    fix = 'register a per-vCPU upcall vector (HVMOP_set_evtchn_upcall_vector; Solo5 8e1beb7): one injection per upcall_pending 0 -> 1 edge, so a handler that only EOIs is safe';
  }
  const uniq = [...new Set(pick)].sort((a, b) => a.seq - b.seq);
  const timeNote = sameInstantNote(uniq);
  return {
    kind: s.kind, domid: s.domid, ports: s.ports, title, bug, fix, raw: uniq,
    steps: uniq.map((x, i) => `${String(i + 1).padStart(2)}. [t=${ms(x.t)}] ${describeStep(x, name)}`),
    ...(timeNote ? { timeNote } : {}),
  };
}

/**
 * Steps that share a stamp are not a recording fault: virtual time moves only
 * when nothing is runnable (sim/clock.ts), and neither a guest instruction nor
 * dom0's work takes any, so a whole interleaving usually happens at one
 * instant, and one during boot at t=0. Says so, naming the
 * steps (1-based, as printed), or undefined when every stamp differs.
 */
export function sameInstantNote(steps: readonly Step[]): string | undefined {
  let best: [number, number] | undefined;
  for (let i = 0; i < steps.length; ) {
    let j = i;
    while (j + 1 < steps.length && steps[j + 1]!.t === steps[i]!.t) j++;
    if (j > i && (!best || j - i > best[1] - best[0])) best = [i, j];
    i = j + 1;
  }
  if (!best) return undefined;
  const t = steps[best[0]]!.t;
  const when = t === 0 ? ' (t=0: before any virtual time passed, the domain still booting)' : '';
  return `steps ${best[0] + 1}-${best[1] + 1} share t=${ms(t)}${when}: virtual time moves only when nothing is runnable, and guest instructions and dom0 work take none; their order is the recorder's`;
}

/** The block sequence that ended in `hlt` (cli, the check, set_timer_op, sti, hlt, halted). */
function blockSteps(mine: Step[], hlt: number, actor: string): Step[] {
  const out: Step[] = [];
  for (let i = hlt; i >= 0 && out.length < 8; i--) {
    const x = mine[i]!;
    if (x.actor !== actor) continue;
    if (x.kind === 'halt' || x.kind === 'timer' || (x.kind === 'door' && ['hlt', 'sti', 'cli', 'block:check upcall_pending'].includes(x.label))) out.unshift(x);
    if (x.kind === 'door' && (x.label === 'cli' || x.label === 'block:check upcall_pending') && out.some((y) => y.kind === 'timer')) {
      if (x.label === 'cli' || !mine.slice(0, i).some((y) => y.actor === actor && y.label === 'cli')) break;
    }
    if (x.kind === 'door' && x.label.startsWith('demux')) break;
  }
  return out;
}

/** Names a guest's ports from the store: the xenstore and console ports, VIRQ_TIMER, and device channels. */
export function defaultNamer(hv: Hypervisor, device?: (domid: number, port: number) => string | undefined): PortNamer {
  return (domid, port) => {
    const d = hv.domain(domid);
    if (!d) return `port ${port}`;
    const role =
      device?.(domid, port) ??
      (port === Number(d.getParam(2)) ? 'xenstore' :
      port === Number(d.getParam(18)) ? 'console' :
      port === d.evtchn.virqToPort(0, 0) ? 'VIRQ_TIMER' :
      d.evtchn.state[port] === 3 && d.evtchn.remoteDom[port] === 0 ? 'to dom0' : '');
    return role ? `port ${port} (${role})` : `port ${port}`;
  };
}

/** The explanation as printed under a hang. */
export function formatExplanation(e: Explanation, what: 'hung' | 'stalled' = 'hung'): string {
  return [
    `why it ${what}: ${e.title}`,
    ...e.steps.map((l) => `  ${l}`),
    ...(e.timeNote ? [`  time: ${e.timeNote}`] : []),
    `  bug:  ${e.bug}`,
    `  fix:  ${e.fix}`,
  ].join('\n');
}
