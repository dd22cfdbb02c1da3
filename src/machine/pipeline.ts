// The tiny shell grammar of the xl prompt: `a; b` runs a then b, `a | grep RE`
// filters a's text output. No real shell is involved: the commands are xl's
// and dom0's own (they return their output as text), and the only programs a
// pipe may feed are the three filters people use on that text (grep, head,
// wc). Quoting follows sh for the cases that matter ('…', "…", \x), and `#`
// starting a word begins a comment.
import type { XlResult } from '../dom0/toolstack/xl.ts';

/** One `a | b | c`: the argv of each stage. */
export type Pipeline = string[][];

export const FILTERS = ['grep', 'head', 'wc'];

const SEP = Symbol(';');
const PIPE = Symbol('|');
type Token = string | typeof SEP | typeof PIPE;

/** Words and operators of one line; throws on an unterminated quote. */
function tokenize(line: string): Token[] {
  const out: Token[] = [];
  let word: string | undefined;
  const end = () => {
    if (word !== undefined) out.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r') end();
    else if (c === ';' || c === '|' || c === '\n') {
      // A newline ends a command, as in sh (a quoted multi-line argument is several lines).
      end();
      out.push(c === '|' ? PIPE : SEP);
    } else if (c === '#' && word === undefined) break;
    else if (c === '\\') word = (word ?? '') + (line[++i] ?? '');
    else if (c === "'" || c === '"') {
      // Inside "…" a backslash escapes the next character (sh: \" \\ \$ \`); inside '…' nothing is special.
      let close = i + 1;
      while (close < line.length && line[close] !== c) close += c === '"' && line[close] === '\\' ? 2 : 1;
      if (close >= line.length) throw new Error(`unterminated ${c === "'" ? 'single' : 'double'} quote`);
      const body = line.slice(i + 1, close);
      word = (word ?? '') + (c === '"' ? body.replace(/\\(["\\$`])/g, '$1') : body);
      i = close;
    } else word = (word ?? '') + c;
  }
  end();
  return out;
}

/** `a | b; c` -> [[a, b], [c]]; empty commands between `;` are skipped, an empty pipe stage is an error. */
export function parseLine(line: string): Pipeline[] {
  const out: Pipeline[] = [];
  let pipe: Pipeline = [[]];
  const close = () => {
    const empty = pipe.some((s) => s.length === 0);
    if (pipe.length > 1 && empty) throw new Error("syntax error near unexpected token `|'");
    if (!empty) out.push(pipe);
    pipe = [[]];
  };
  for (const t of tokenize(line)) {
    if (t === SEP) close();
    else if (t === PIPE) pipe.push([]);
    else pipe[pipe.length - 1]!.push(t);
  }
  close();
  return out;
}

const res = (code: number, stdout: string, stderr = ''): XlResult => ({ code, stdout, stderr });
const lines = (text: string): string[] => (text === '' ? [] : text.replace(/\n$/, '').split('\n'));
const joined = (ls: string[]): string => ls.map((l) => l + '\n').join('');

/** A basic (POSIX BRE) pattern as a JS one: `\|` `\(` `\)` `\+` `\?` are operators, the bare ones literal. */
function breToJs(re: string): string {
  let out = '';
  for (let i = 0; i < re.length; i++) {
    const c = re[i]!;
    if (c === '\\' && i + 1 < re.length) {
      const n = re[++i]!;
      out += '|()+?{}'.includes(n) ? n : `\\${n}`;
    } else out += '|()+?{}'.includes(c) ? `\\${c}` : c;
  }
  return out;
}

/** grep [-v] [-i] [-c] [-E|-F] PATTERN: exit 0 when a line was selected, 1 when none, 2 on a bad command line (GNU grep's codes). */
function grep(args: string[], input: string): XlResult {
  let invert = false, icase = false, count = false, mode: 'bre' | 'ere' | 'fixed' = 'bre';
  let pattern: string | undefined;
  for (const a of args) {
    if (pattern === undefined && /^-[vicEF]+$/.test(a)) {
      for (const f of a.slice(1)) {
        if (f === 'v') invert = true;
        else if (f === 'i') icase = true;
        else if (f === 'c') count = true;
        else if (f === 'E') mode = 'ere';
        else mode = 'fixed';
      }
    } else if (pattern === undefined) pattern = a;
    else return res(2, '', `grep: ${a}: files are not readable here (grep reads the pipe)\n`);
  }
  if (pattern === undefined) return res(2, '', 'Usage: grep [-vicEF] PATTERN\n');
  let re: RegExp;
  try {
    const src = mode === 'fixed' ? pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : mode === 'ere' ? pattern : breToJs(pattern);
    re = new RegExp(src, icase ? 'i' : '');
  } catch {
    return res(2, '', `grep: Invalid regular expression: ${pattern}\n`);
  }
  const picked = lines(input).filter((l) => re.test(l) !== invert);
  return res(picked.length > 0 ? 0 : 1, count ? `${picked.length}\n` : joined(picked));
}

/** head [-n N | -N]: the first N lines (10 by default). */
function head(args: string[], input: string): XlResult {
  let n = 10;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a === '-n' ? args[++i] : /^-n?(\d+)$/.exec(a)?.[1] ?? (a.startsWith('-n') ? a.slice(2) : undefined);
    if (v === undefined || !/^\d+$/.test(v)) return res(1, '', `head: invalid number of lines: '${v ?? a}'\n`);
    n = Number(v);
  }
  return res(0, joined(lines(input).slice(0, n)));
}

/** wc [-l] [-w] [-c]: counts of the piped text (all three without a flag), coreutils' layout for stdin. */
function wc(args: string[], input: string): XlResult {
  const flags = new Set<string>();
  for (const a of args) {
    if (!/^-[lwc]+$/.test(a)) return res(1, '', `wc: ${a}: only -l, -w and -c are emulated\n`);
    for (const f of a.slice(1)) flags.add(f);
  }
  const counts = {
    l: (input.match(/\n/g) ?? []).length,
    w: input.split(/\s+/).filter(Boolean).length,
    c: Buffer.byteLength(input),
  };
  const picked = (['l', 'w', 'c'] as const).filter((f) => flags.size === 0 || flags.has(f));
  const one = picked.length === 1;
  return res(0, picked.map((f) => (one ? String(counts[f]) : String(counts[f]).padStart(7))).join(one ? '' : ' ') + '\n');
}

/** Feeds `first`'s stdout through the filter stages; stderr passes through, the code is the last stage's (sh without pipefail). */
export function runFilters(first: XlResult, stages: string[][]): XlResult {
  let cur = first;
  let stderr = first.stderr;
  for (const [cmd, ...args] of stages) {
    const r = cmd === 'grep' ? grep(args, cur.stdout) : cmd === 'head' ? head(args, cur.stdout) : cmd === 'wc' ? wc(args, cur.stdout) : res(127, '', `${cmd}: only grep, head and wc can read a pipe here\n`);
    stderr += r.stderr;
    cur = r;
  }
  return { code: cur.code, stdout: cur.stdout, stderr };
}

/** `text | STAGES` for callers that already have the text (transcripts of a scenario). */
export function pipeText(text: string, line: string): string {
  const [p] = parseLine(line);
  return runFilters(res(0, text), p ?? []).stdout;
}
