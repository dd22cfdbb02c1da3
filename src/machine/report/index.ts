// `--report FILE.html`: the hang report of a `xenode run` or a scenario, made
// from what the run left (the machine's flight recorder, the verdict, the
// explanations, the 'e' dump) and written as one self-contained page.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Machine } from '../machine.ts';
import { defaultNamer, type Explanation } from '../explain.ts';
import type { RunKernelResult } from '../run_kernel.ts';
import type { ScenarioResult } from '../scenarios/types.ts';
import type { Verdict } from '../verdict.ts';
import { buildReportModel } from './model.ts';
import { renderHangReport, type HangReportInput } from './html.ts';

export { buildReportModel, type ReportModel } from './model.ts';
export { renderHangReport, type HangReportInput } from './html.ts';

/** The footer's version: package.json's. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function namerOf(m: Machine) {
  return defaultNamer(m.hv, (d, p) => m.portDevice(d, p));
}

/** The page of a `xenode run`: `title` is the command line that ran, `replay` the one that replays it. */
export function reportOfRun(r: RunKernelResult, title: string, replay: string, console = ''): HangReportInput {
  const outcome = r.verdict?.outcome ?? (r.ok ? 'ok' : 'failed');
  return {
    title, outcome, detail: r.verdict?.detail ?? r.summary, replay, version: packageVersion(),
    explanations: r.explanations, dump: r.hv.debugKey('e'),
    model: buildReportModel(r.hv, r.explanations, namerOf(r.machine)),
    ...(console ? { transcript: console } : {}),
  };
}

/** What a scenario may carry beyond ScenarioResult (missed-event does: its verdict and explanations). */
interface HangParts {
  outcome?: string;
  verdict?: Verdict;
  explanations?: Explanation[];
  dump?: string;
}

/** The page of a `xenode scenario`. */
export function reportOfScenario(r: ScenarioResult, title: string): HangReportInput {
  const h = r as ScenarioResult & HangParts;
  const explanations = h.explanations ?? [];
  const outcome = h.outcome ?? (r.ok ? 'ok' : 'failed');
  return {
    title, outcome, detail: h.verdict?.detail ?? (r.failures.join('; ') || 'every check held'), replay: r.replay, version: packageVersion(),
    explanations, dump: h.dump ?? r.host.hv.debugKey('e'),
    model: buildReportModel(r.host.hv, explanations, namerOf(r.host)),
    transcript: r.transcript.render({ checks: true }),
  };
}

export function writeHangReport(file: string, input: HangReportInput): void {
  writeFileSync(file, renderHangReport(input));
}
