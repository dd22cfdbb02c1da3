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
  /**
   * A live terminal: attach to a domain's console (`xl console DOM`, `xl
   * create -c`) until the domain ends or the user detaches (Ctrl-]). Without
   * it, create -c follows the console in virtual time and prints it, and
   * console prints what there is (transcripts, pipes).
   */
  attach?(domid: number, fromStart: boolean): Promise<void>;
}

export class XlSession {
  constructor(
    readonly host: Machine,
    readonly io: SessionIO,
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
      // Only a command whose output goes to the terminal attaches (not `console 1 | grep x`).
      const attach = this.io.attach && filters.length === 0 ? attachable(first) : undefined;
      const before = attach?.create ? new Set(this.host.hv.domains().map((d) => d.id)) : undefined;
      const out = runFilters(await this.command(attach?.argv ?? first), filters);
      this.io.err(out.stderr);
      this.io.out(out.stdout);
      r.code = out.code;
      if (out.code !== 0) r.failed = true;
      if (attach && out.code === 0) {
        const domid = before ? this.host.hv.domains().find((d) => !before.has(d.id))?.id : this.resolve(attach.dom);
        // create -c shows the console from its first byte (xl attaches before it unpauses); console has printed what there was.
        if (domid !== undefined) await this.io.attach!(domid, attach.create);
      }
    }
    return r;
  }

  /** A domain argument as xl's find_domain reads it (a number, else a name), or undefined. */
  private resolve(p: string | undefined): number | undefined {
    if (p === undefined) return undefined;
    if (/^\d+$/.test(p)) return Number(p);
    return this.host.run(() => this.host.libxl.nameToDomid(p), 'xl');
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

/**
 * `[xl] create -c …` and `[xl] console [-t T] [-n N] DOM` on a live terminal:
 * create runs without -c (the attach follows it) and console prints what
 * there is so far, then attaches.
 */
function attachable(argv: string[]): { argv: string[]; create: boolean; dom?: string } | undefined {
  const words = argv[0] === 'xl' ? argv.slice(1) : argv;
  if (words[0] === 'create' && words.includes('-c')) return { argv: words.filter((w) => w !== '-c'), create: true };
  if (words[0] === 'console') {
    const dom = words.slice(1).filter((w, i, all) => !w.startsWith('-') && !/^-[tn]$/.test(all[i - 1] ?? '')).pop();
    return { argv: words, create: false, ...(dom !== undefined ? { dom } : {}) };
  }
  return undefined;
}
