// What every `xenode` command shares about its arguments: the exit codes
// (0 ok, 1 the command ran and failed, 2 the command line is wrong, as
// getopt-based tools and xl do), the seed-range syntax, and the progress
// line of long commands (stderr only, so stdout stays the result).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ROOT } from '../machine/kernels.ts';

/** A wrong command line: printed as one line, exit code 2. */
export class UsageError extends Error {}

export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** Most seeds one sweep may name: the list is held in memory. */
export const MAX_SEEDS = 1_000_000;

/** node:util parseArgs, whose errors become UsageError. */
export function parseOptions<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `--seed N`: a non-negative integer. */
export function parseSeed(s: string | undefined, flag = '--seed'): number {
  const n = Number(s);
  if (s === undefined || !/^\d+$/.test(s.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} must be a non-negative integer, got '${s ?? ''}'`);
  return n;
}

/** `A..B` or `a,b,c` (or a mix): the seeds in order. An empty range (5..1) is an error, not zero seeds. */
export function parseSeeds(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:\.\.(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`bad --seeds '${s}' (use A..B or a,b,c)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) throw new UsageError(`bad --seeds '${s}': seed too large`);
    if (b < a) throw new UsageError(`bad --seeds '${s}': empty range ${a}..${b} (the first seed must not exceed the last)`);
    if (out.length + (b - a + 1) > MAX_SEEDS) throw new UsageError(`bad --seeds '${s}': more than ${MAX_SEEDS} seeds`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/**
 * The file a KERNEL or CFG argument names, as an absolute path: from the
 * current directory (a kernel of your own), else the package's
 * (`kernels/hello.ts` from anywhere). Everything after it (the type-check, the
 * `//xl:` lines, the build, `xl create` of a cfg) gets this one path: each
 * resolving a relative one against its own base is how `cd /tmp && xenode run
 * kernels/ring.ts` type-checked /tmp/kernels/ring.ts. Throws UsageError if
 * neither exists.
 */
export function resolveKernelArg(arg: string, cwd = process.cwd()): string {
  for (const p of [path.resolve(cwd, arg), path.resolve(ROOT, arg)]) if (existsSync(p)) return p;
  throw new UsageError(`no such kernel or cfg file: ${arg}`);
}

/** The first line of an error, without esbuild's "Build failed with N error(s):" preamble. */
export function errorLine(e: unknown): string {
  const errs = (e as { errors?: { text?: string }[] }).errors;
  if (Array.isArray(errs) && errs[0]?.text) return errs[0].text;
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

/** Runs a command body: UsageError -> exit 2, any other error -> exit 1, each as one line on stderr. */
export async function runCommand(name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    const usage = e instanceof UsageError;
    console.error(`xenode ${name}: ${errorLine(e)}${usage ? ` (try: xenode ${name} --help)` : ''}`);
    return usage ? EXIT_USAGE : EXIT_FAIL;
  }
}

/**
 * The progress of a long command on stderr: on a terminal one line redrawn in
 * place with the rate and the time left; off a terminal (piped, CI logs)
 * nothing per step, so logs are not flooded.
 */
export class Progress {
  private readonly t0: number;
  private drawn = false;
  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly now: () => number = Date.now,
  ) {
    this.t0 = now();
  }

  step(done: number, note: string): void {
    if (this.stream.isTTY !== true) return;
    const width = 30;
    const filled = Math.round((done / this.total) * width);
    const secs = Math.max((this.now() - this.t0) / 1000, 1e-3);
    const rate = done / secs;
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${rate.toFixed(1)}/s ETA ${formatSecs(eta)} ${note}`;
    this.stream.write(`\r\x1b[K${line}`);
    this.drawn = true;
  }

  /** Clears the line so the result starts on a clean one. */
  end(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
  }
}

export function formatSecs(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.ceil(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
