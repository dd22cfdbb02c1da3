// One `xenode xl` session: a line of `;`-separated pipelines run on one
// emulated machine. Every command's failure is its exit code and a message on
// stderr, never an exception: a bad cfg or a kernel that does not build
// prints one line and the session goes on (a shell does not die when a
// program fails).
import { Machine } from '../machine/machine.ts';
import { DOM0_HELP, dom0Command } from '../machine/shell.ts';
import { parseLine, runFilters } from '../machine/pipeline.ts';
import type { XlResult } from '../dom0/toolstack/xl.ts';
import { errorLine as oneLine } from './args.ts';

export interface LineResult {
  /** The last pipeline's exit code (0 for an empty line). */
  code: number;
  /** Whether any pipeline of the line failed. */
  failed: boolean;
  /** `exit` or `quit` was run: the session ends after this line. */
  exit: boolean;
}

export interface SessionIO {
  out(s: string): void;
  err(s: string): void;
}

export class XlSession {
  constructor(
    readonly host: Machine,
    private readonly io: SessionIO,
  ) {}

  /** Runs one line; `echo` prints `# command` before each (transcripts, piped input). */
  async line(text: string, echo: boolean): Promise<LineResult> {
    let pipes;
    try {
      pipes = parseLine(text);
    } catch (e) {
      this.io.err(`xl: ${oneLine(e)}\n`);
      return { code: 2, failed: true, exit: false };
    }
    const r: LineResult = { code: 0, failed: false, exit: false };
    for (const p of pipes) {
      const [first, ...filters] = p as [string[], ...string[][]];
      if (echo) this.io.out(`# ${p.map((s) => s.join(' ')).join(' | ')}\n`);
      if (first[0] === 'exit' || first[0] === 'quit') {
        r.exit = true;
        if (first[1] !== undefined && /^\d+$/.test(first[1])) r.code = Number(first[1]) & 0xff;
        return r;
      }
      const out = runFilters(await this.command(first), filters);
      this.io.err(out.stderr);
      this.io.out(out.stdout);
      r.code = out.code;
      if (out.code !== 0) r.failed = true;
    }
    return r;
  }

  /** One command's text result: a built-in, dom0's shell, else xl. */
  async command(argv: string[]): Promise<XlResult> {
    const [cmd, ...args] = argv;
    const host = this.host;
    try {
      if (cmd === 'help') {
        const xl = await host.xl(['help']);
        return { code: 0, stdout: `${xl.stdout}\n${DOM0_HELP}`, stderr: '' };
      }
      if (cmd === 'sleep') {
        // coreutils: a non-negative number of seconds; virtual time here.
        const s = args[0] ?? '';
        const secs = Number(s);
        if (args.length !== 1 || !/^\d*\.?\d+$/.test(s) || !Number.isFinite(secs)) {
          return { code: 1, stdout: '', stderr: args.length === 0 ? 'sleep: missing operand\n' : `sleep: invalid time interval '${args.join(' ')}'\n` };
        }
        const until = host.sim.now + secs * 1e9;
        // An idle host (nothing left to run) still lets the time pass.
        if (host.sim.run({ until }).reason === 'idle') host.sim.clock.advanceTo(until);
        return { code: 0, stdout: '', stderr: '' };
      }
      return dom0Command(host, argv) ?? (await host.xl(cmd === 'xl' ? args : argv));
    } catch (e) {
      return { code: 1, stdout: '', stderr: `${cmd === 'xl' ? args[0] : cmd}: ${oneLine(e)}\n` };
    }
  }
}
