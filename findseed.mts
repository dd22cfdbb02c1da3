import { missedEvent } from './src/machine/scenarios/missed_event.ts';
const [variant, workload, from, to, count] = process.argv.slice(2);
for (let seed = Number(from); seed <= Number(to); seed++) {
  const t0 = performance.now();
  const r = await missedEvent.run({ seed, variant, workload, ...(count ? { count: Number(count) } : {}) });
  console.log(seed, r.outcome, (performance.now() - t0).toFixed(0) + 'ms', r.portLines.map((l) => l.trim().slice(0, 12)).join(' | '), r.transcript.steps.find((s) => s.id === 'boot')?.checks.every((c) => c.ok) ? 'after-boot' : 'during-boot');
}
