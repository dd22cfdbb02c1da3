// dom0 scenarios as explore targets.
//
// xenwatch-stall: variants = dom0's watch threads (`single` is the bug,
//   `mtwatch` the fix), workloads = the stalling backend. The scenario runs
//   to its `create-next` step; the run fails when `xl create` of the next
//   domain fails (the user-visible bug: its backend is never probed because
//   the one xenwatch thread is stuck) or when any check of the scenario up to
//   there fails. The signature names the stuck thread's stack.
// dm-startup, frontend-handover: the scenario's own checks are the oracle
//   (they describe what must happen under every schedule); the signature is
//   the first failed check with its numbers blanked.
import { scenarios } from '../../scenarios/index.ts';
import type { ScenarioOptions, ScenarioResult } from '../../scenarios/types.ts';
import { fnv1a, hex32, type Outcome, type RunOpts, type Target } from '../target.ts';

function blank(s: string): string {
  return s.replace(/\d+(\.\d+)?/g, 'N');
}

function fingerprint(r: ScenarioResult): string {
  let h = 0x811c9dc5;
  for (const s of r.transcript.steps) for (const l of s.lines) h = fnv1a(l, h);
  return `${r.host.sim.now} ${r.host.sim.steps} ${hex32(h)}`;
}

function check(name: string, opts: readonly string[], what: string, v: string): void {
  if (!opts.includes(v)) throw new Error(`${name}: unknown ${what} '${v}' (known: ${opts.join(', ')})`);
}

export function xenwatchStallTarget(): Target {
  const variants = ['single', 'mtwatch'] as const;
  const workloads = ['netback', 'blkback-io', 'blkback-grant'] as const;
  return {
    name: 'xenwatch-stall',
    describe: 'a backend stalls inside a watch callback; does `xl create` of the next domain still work?',
    variants,
    buggy: ['single'],
    workloads,
    async run(o: RunOpts): Promise<Outcome> {
      check('xenwatch-stall', variants, 'variant', o.variant);
      check('xenwatch-stall', workloads, 'workload', o.workload);
      const opts: ScenarioOptions = {
        seed: o.seed,
        scheduler: o.scheduler,
        xenwatch: o.variant as 'single' | 'mtwatch',
        backend: o.workload as ScenarioOptions['backend'],
        stopAfter: 'create-next',
      };
      const r = await scenarios['xenwatch-stall']!.run(opts);
      try {
        return stallOutcome(r);
      } finally {
        // The schedule is over: its guests' realms can serve the next one (realm_pool.ts).
        r.host.releaseGuests();
      }
    },
  };
}

function stallOutcome(r: ScenarioResult): Outcome {
  const next = r.host.hv.domains().find((d) => d.name === 'pv' && !d.dying);
  const failures = r.failures.filter((f) => !f.startsWith('create-next: xl create fails'));
  // single: the scenario's check *expects* the failure; the bug is the failure itself.
  const createFailed = next === undefined;
  if (!createFailed && failures.length === 0) return { ok: true, signature: '', summary: 'next domain created', fingerprint: fingerprint(r) };
  const k = r.host.kernel!;
  const stuck = k.kthreads
    .list()
    .filter((t) => t.thread.state === 'D')
    .map((t) => `[${t.fullName}] D ${t.thread.stack().slice(0, 5).join('<')}`)
    .sort();
  const what = createFailed ? 'xl create of the next domain fails' : `check failed: ${blank(failures[0]!)}`;
  return { ok: false, signature: [what, ...stuck].join('; '), summary: [what, ...stuck].join('; '), fingerprint: fingerprint(r) };
}

/** A scenario whose checks must hold under every schedule. */
function checkedScenario(name: string, variants: readonly string[], workloads: readonly string[], options: (o: RunOpts) => Partial<ScenarioOptions>): Target {
  return {
    name,
    describe: `${scenarios[name]!.describe} (fails when a check of the scenario fails)`,
    variants,
    buggy: [],
    workloads,
    async run(o: RunOpts): Promise<Outcome> {
      check(name, variants, 'variant', o.variant);
      check(name, workloads, 'workload', o.workload);
      const r = await scenarios[name]!.run({ seed: o.seed, scheduler: o.scheduler, ...options(o) });
      const outcome: Outcome = r.ok
        ? { ok: true, signature: '', summary: 'all checks hold', fingerprint: fingerprint(r) }
        : { ok: false, signature: `check failed: ${blank(r.failures[0]!)}`, summary: r.failures.join('; '), fingerprint: fingerprint(r) };
      r.host.releaseGuests();
      return outcome;
    },
  };
}

export function dmStartupTarget(): Target {
  return checkedScenario('dm-startup', ['fixed', 'legacy'], ['default'], (o) => ({ legacy: o.variant === 'legacy' }));
}

export function frontendHandoverTarget(): Target {
  return checkedScenario('frontend-handover', ['default'], ['netback', 'blkback'], (o) => ({
    handoverBackend: o.workload as 'netback' | 'blkback',
    cycles: o.load === undefined ? 3 : 1 + Math.round(o.load * 4),
  }));
}
