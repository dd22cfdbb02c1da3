// A scenario's transcript: steps, each a few terminal commands with their
// output (`# xl list` then what xl printed) and the checks the step makes.
// Rendered as a terminal session; also returned as data for tests and --json.

import type { XlResult } from '../../dom0/toolstack/xl.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface TranscriptStep {
  id: string;
  title: string;
  /** Virtual time at the start of the step (ns). */
  t: number;
  lines: string[];
  checks: Check[];
}

export class Transcript {
  readonly steps: TranscriptStep[] = [];

  constructor(
    private readonly now: () => number,
    /** Called for each new step (e.g. to mark it in the Chrome trace). */
    private readonly onStep?: (s: TranscriptStep) => void,
  ) {}

  get current(): TranscriptStep {
    const s = this.steps[this.steps.length - 1];
    if (!s) throw new Error('no step');
    return s;
  }

  step(id: string, title: string): TranscriptStep {
    const s: TranscriptStep = { id, title, t: this.now(), lines: [], checks: [] };
    this.steps.push(s);
    this.onStep?.(s);
    return s;
  }

  /** A command and its output, as a shell shows it. */
  cmd(cmdline: string, r: Pick<XlResult, 'stdout' | 'stderr'>): void {
    this.current.lines.push(`# ${cmdline}`);
    for (const part of [r.stdout, r.stderr]) {
      if (!part) continue;
      for (const l of part.replace(/\n$/, '').split('\n')) this.current.lines.push(l);
    }
  }

  /** Narration (what happens off-screen), printed as a shell comment. */
  note(text: string): void {
    this.current.lines.push(`## ${text}`);
  }

  check(name: string, ok: boolean, detail?: string): boolean {
    this.current.checks.push(detail === undefined ? { name, ok } : { name, ok, detail });
    return ok;
  }

  get failures(): string[] {
    const out: string[] = [];
    for (const s of this.steps) for (const c of s.checks) if (!c.ok) out.push(`${s.id}: ${c.name}${c.detail ? ` (${c.detail})` : ''}`);
    return out;
  }

  get ok(): boolean {
    return this.failures.length === 0;
  }

  render(opts: { checks?: boolean } = {}): string {
    const out: string[] = [];
    for (const s of this.steps) {
      out.push(`=== ${s.title}  [t=${(s.t / 1e9).toFixed(3)}s]`);
      out.push(...s.lines);
      if (opts.checks) for (const c of s.checks) out.push(`   ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail && !c.ok ? `: ${c.detail}` : ''}`);
      out.push('');
    }
    return out.join('\n');
  }
}
