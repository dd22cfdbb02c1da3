// missed-event as an explore target: the Mirage-like guest (kernels/ping.ts)
// on the full host under a runtime variant and a workload
// (src/machine/scenarios/missed_event.ts). A run fails when the guest hangs
// (still halted after its own timer) or stalls (deaf until an unrelated
// timer's demux rescued the port), times out or crashes.
//
// Signature: the outcome and, per explained suspect, its bug class, vCPU and
// ports, e.g. "hang lost-interrupt d1v0 ports 4" or "stall wedged d1v0 ports 1"
// (ports are stable here: 1 xenstore, 2 console, 3 VIRQ_TIMER, 4 netfront).
// The explanation (explain.ts's numbered interleaving, rebuilt from the
// flight recorder) goes into Outcome.explanation, which the shrunk schedule
// prints under its decisions.
//
// Workload sizes: the scenario's own defaults (2,000 echo requests, 50
// commands) take seconds per schedule; a campaign uses 200 echo requests and
// 20 commands (BENCHMARKS.md's hit-rate table used the same), and swarm's
// load scales them (20..400, 5..50).
import { VARIANT_NAMES } from '../../../abi/variant.ts';
import { formatExplanation } from '../../explain.ts';
import { missedEvent, WORKLOADS } from '../../scenarios/missed_event.ts';
import { fnv1a, hex32, type Outcome, type RunOpts, type Target } from '../target.ts';

function count(workload: string, load: number | undefined): number | undefined {
  if (workload === 'ping-flood') return load === undefined ? 200 : 20 + Math.round(load * 380);
  if (workload === 'xenstore') return load === undefined ? 20 : 5 + Math.round(load * 45);
  return undefined;
}

export function missedEventTarget(): Target {
  return {
    name: 'missed-event',
    describe: 'the 2020 PVHv2 missed-event hang: a Mirage-like guest (xenstore, console, netfront, ping) under a runtime variant and a workload',
    variants: VARIANT_NAMES,
    buggy: VARIANT_NAMES.filter((v) => v !== 'fixed'),
    workloads: WORKLOADS,
    async run(o: RunOpts): Promise<Outcome> {
      if (!(VARIANT_NAMES as readonly string[]).includes(o.variant)) throw new Error(`missed-event: unknown variant '${o.variant}' (known: ${VARIANT_NAMES.join(', ')})`);
      if (!(WORKLOADS as readonly string[]).includes(o.workload)) throw new Error(`missed-event: unknown workload '${o.workload}' (known: ${WORKLOADS.join(', ')})`);
      const n = count(o.workload, o.load);
      const r = await missedEvent.run({ seed: o.seed, scheduler: o.scheduler, variant: o.variant, workload: o.workload, ...(n !== undefined ? { count: n } : {}) });
      try {
        let h = 0x811c9dc5;
        for (const s of r.transcript.steps) for (const l of s.lines) h = fnv1a(l, h);
        const fingerprint = `${r.host.sim.now} ${r.host.sim.steps} ${hex32(h)} ${r.outcome}`;
        if (r.outcome === 'ok') {
          if (r.ok) return { ok: true, signature: '', summary: 'no hang', fingerprint };
          return { ok: false, signature: `check failed: ${r.failures[0]!.replace(/\d+/g, 'N')}`, summary: r.failures.join('; '), fingerprint };
        }
        const what = r.explanations.length > 0
          ? r.explanations.map((e) => `${e.kind} d${e.domid} ports ${e.ports.join(',') || '-'}`)
          : (r.verdict?.suspects ?? []).map((s) => `${s.kind} d${s.domid} ports ${s.ports.join(',') || '-'}`);
        const signature = `${r.outcome}${what.length ? ` ${[...new Set(what)].join('; ')}` : ''}`;
        const summary = `${r.outcome}${r.verdict ? `: ${r.verdict.detail}` : ''}`;
        const what2 = r.outcome === 'stall' ? 'stalled' : 'hung';
        const explanation = r.explanations.flatMap((e) => formatExplanation(e, what2).split('\n'));
        return { ok: false, signature, summary, fingerprint, ...(explanation.length ? { explanation } : {}) };
      } finally {
        // The schedule is over: its guests' realms can serve the next one (realm_pool.ts).
        r.host.releaseGuests();
      }
    },
  };
}
