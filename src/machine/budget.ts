// The guest's step budget, inserted when a kernel is bundled: a counter check
// at every loop back-edge (a `while`/`for(;;)` test, the body of a for-in/of)
// and every function entry (block and expression bodies) of the kernel's and
// the runtime's code. Any endless run of guest code passes one of them
// forever, so a slice that never returns is stopped after a fixed number of
// steps: the loader (src/dom0/toolstack/loader.ts) resets the counter at
// each resume and crashes the domain when it runs out, as Xen's watchdog
// crashes a domain that stops answering (xen: common/sched/core.c:
// domain_watchdog_timeout). A step count, not a wall-clock timeout, so where
// a runaway guest stops is the same on every run of a seed.
//
// The check is one decrement of a guest-realm Int32Array cell, so a resume
// costs no host call: the loader writes the budget before the resume and
// reads the cell after it. Over budget, every further check throws again
// (the cell stays negative), so a guest `catch` cannot swallow it for long.
//
// The bundle is esbuild's output (formatted, `;` after every statement), read
// by the small tokenizer below; insertions carry no newline, so line numbers
// (stack traces, the source map) are unchanged; columns after an insertion on
// the same line shift. A single builtin call (a huge `fill`, a pathological
// regular expression) is one step: the budget bounds guest code, not builtins.
import vm from 'node:vm';
import { BUDGET_CELL, BUDGET_HOOK, BUDGET_MARK, BUDGET_OVER } from '../dom0/toolstack/loader.ts';

const CHECK_EXPR = `(--${BUDGET_CELL}[0] >= 0 || ${BUDGET_OVER}())`;
const CHECK_STMT = `if (--${BUDGET_CELL}[0] < 0) ${BUDGET_OVER}();`;
/** Line 1 after the banner: the cell (full until a loader hands it its budget) and the over-budget throw. */
const HEADER =
  `const ${BUDGET_CELL} = new Int32Array(1); ${BUDGET_CELL}[0] = 2147483647; ` +
  `const ${BUDGET_OVER} = () => { ${BUDGET_CELL}[0] = -1; const e = new Error("xenode: guest slice over its step budget"); e.${BUDGET_MARK} = true; throw e; }; ` +
  `if (typeof globalThis.${BUDGET_HOOK} === "function") { const h = globalThis.${BUDGET_HOOK}; delete globalThis.${BUDGET_HOOK}; h(${BUDGET_CELL}); }`;

type Kind = 'name' | 'num' | 'str' | 'regex' | 'punct';
interface Tok { kind: Kind; v: string; s: number; e: number }

const PUNCT = ['>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=', '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '**', '<<', '>>'];
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);
const IDENT = /[\w$\u0080-\uffff]/;

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  const braces: ('{' | '${')[] = [];
  let i = 0;
  const n = src.length;
  const push = (kind: Kind, s: number, e: number) => out.push({ kind, v: src.slice(s, e), s, e });
  /** Scan template characters from i (after '`' or a '${...}'); stops after '`' or '${' (pushing that brace). */
  const template = (s: number) => {
    while (i < n) {
      const c = src[i]!;
      if (c === '\\') i += 2;
      else if (c === '`') { i++; push('str', s, i); return; }
      else if (c === '$' && src[i + 1] === '{') { push('str', s, i); push('punct', i, i + 2); braces.push('${'); i += 2; return; }
      else i++;
    }
    throw new Error('budget: unterminated template literal');
  };
  while (i < n) {
    const c = src[i]!;
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '/' && src[i + 1] === '/') { while (i < n && src[i] !== '\n') i++; continue; }
    if (c === '/' && src[i + 1] === '*') { const j = src.indexOf('*/', i + 2); if (j < 0) throw new Error('budget: unterminated comment'); i = j + 2; continue; }
    const s = i;
    if (c === '"' || c === "'") {
      i++;
      while (i < n && src[i] !== c) i += src[i] === '\\' ? 2 : 1;
      i++;
      push('str', s, i);
    } else if (c === '`') {
      i++;
      template(s);
    } else if (c === '}' && braces.length > 0 && braces[braces.length - 1] === '${') {
      braces.pop();
      push('punct', s, s + 1);
      i++;
      template(i);
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      while (i < n && /[\w.]/.test(src[i]!)) i++;
      push('num', s, i);
    } else if (IDENT.test(c) || c === '#' || c === '\\') {
      i++;
      while (i < n && (IDENT.test(src[i]!) || src[i] === '\\')) i++;
      push('name', s, i);
    } else if (c === '/' && regexAllowed(out[out.length - 1])) {
      i++;
      let cls = false;
      while (i < n) {
        const d = src[i]!;
        if (d === '\\') { i += 2; continue; }
        i++;
        if (d === '[') cls = true;
        else if (d === ']') cls = false;
        else if (d === '/' && !cls) break;
      }
      while (i < n && IDENT.test(src[i]!)) i++;
      push('regex', s, i);
    } else {
      const p = PUNCT.find((q) => src.startsWith(q, i)) ?? c;
      if (p === '{') braces.push('{');
      else if (p === '}') braces.pop();
      i += p.length;
      push('punct', s, i);
    }
  }
  return out;
}

function regexAllowed(prev: Tok | undefined): boolean {
  if (!prev) return true;
  if (prev.kind === 'name') return REGEX_AFTER_WORD.has(prev.v);
  if (prev.kind !== 'punct') return false;
  return !(prev.v === ')' || prev.v === ']' || prev.v === '}' || prev.v === '++' || prev.v === '--');
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}', '${': '}' };

/** match[i]: the index of the bracket closing/opening token i (-1 for others). */
function matchBrackets(t: Tok[]): number[] {
  const m = new Array<number>(t.length).fill(-1);
  const st: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const v = t[i]!.kind === 'punct' ? t[i]!.v : '';
    if (v in OPEN) st.push(i);
    else if (v === ')' || v === ']' || v === '}') {
      const o = st.pop();
      if (o === undefined || OPEN[t[o]!.v] !== v) throw new Error(`budget: unbalanced '${v}' at offset ${t[i]!.s}`);
      m[o] = i;
      m[i] = o;
    }
  }
  if (st.length > 0) throw new Error('budget: unbalanced brackets at end of bundle');
  return m;
}

const NOT_FUNCTION_HEAD = new Set(['if', 'for', 'while', 'switch', 'catch', 'with']);
const isP = (t: Tok | undefined, v: string) => t !== undefined && t.kind === 'punct' && t.v === v;
const isN = (t: Tok | undefined, v: string) => t !== undefined && t.kind === 'name' && t.v === v;

/** `code` (an esbuild bundle starting with its `"use strict";` banner) with the step-budget checks inserted. */
export function insertBudget(code: string): string {
  for (const id of [BUDGET_CELL, BUDGET_OVER, BUDGET_HOOK]) {
    if (code.includes(id)) throw new Error(`budget: the kernel uses the reserved name ${id}`);
  }
  const t = tokenize(code);
  const m = matchBrackets(t);
  const ins: { at: number; text: string }[] = [];
  const add = (at: number, text: string) => ins.push({ at, text });

  /** Index of the last token of the statement starting at token i. */
  const stmtEnd = (i: number): number => {
    const a = t[i]!;
    if (isP(a, '{')) return m[i]!;
    if (isN(a, 'for') || isN(a, 'while') || isN(a, 'with')) {
      const p = isN(t[i + 1], 'await') ? i + 2 : i + 1;
      return stmtEnd(m[p]! + 1);
    }
    if (isN(a, 'if')) {
      const e = stmtEnd(m[i + 1]! + 1);
      return isN(t[e + 1], 'else') ? stmtEnd(e + 2) : e;
    }
    if (isN(a, 'do')) {
      const e = stmtEnd(i + 1); // body, then `while (…)` and its `;`
      const close = m[e + 2]!;
      return isP(t[close + 1], ';') ? close + 1 : close;
    }
    if (isN(a, 'try')) {
      let e = m[i + 1]!;
      if (isN(t[e + 1], 'catch')) e = isP(t[e + 2], '(') ? m[m[e + 2]! + 1]! : m[e + 2]!;
      if (isN(t[e + 1], 'finally')) e = m[e + 2]!;
      return e;
    }
    for (let j = i; j < t.length; j++) {
      if (m[j]! > j) j = m[j]!;
      else if (isP(t[j], ';')) return j;
    }
    return t.length - 1;
  };

  let classDepthPending = -1;
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    const a = t[i]!;
    const prev = t[i - 1];
    const afterDot = isP(prev, '.') || isP(prev, '?.');
    if (a.kind === 'name' && !afterDot && (a.v === 'for' || a.v === 'while') && (isP(t[i + 1], '(') || (a.v === 'for' && isN(t[i + 1], 'await')))) {
      const p = isN(t[i + 1], 'await') ? i + 2 : i + 1;
      const q = m[p]!;
      if (a.v === 'while') {
        add(t[p]!.e, `${CHECK_EXPR} && (`);
        add(t[q]!.s, ')');
        continue;
      }
      const semis: number[] = [];
      for (let j = p + 1; j < q; j++) {
        if (m[j]! > j) j = m[j]!;
        else if (isP(t[j], ';')) semis.push(j);
      }
      if (semis.length === 2) {
        const [s1, s2] = semis as [number, number];
        if (s2 === s1 + 1) add(t[s1]!.e, ` ${CHECK_EXPR}`);
        else { add(t[s1 + 1]!.s, `${CHECK_EXPR} && (`); add(t[s2]!.s, ')'); }
      } else if (isP(t[q + 1], '{')) {
        add(t[q + 1]!.e, ` ${CHECK_STMT}`);
      } else {
        const e = stmtEnd(q + 1);
        add(t[q + 1]!.s, `{ ${CHECK_STMT} `);
        add(t[e]!.e, ' }');
      }
      continue;
    }
    if (a.kind === 'name' && a.v === 'class' && !afterDot) { classDepthPending = depth; continue; }
    if (a.kind !== 'punct') continue;
    if (a.v === '{' || a.v === '(' || a.v === '[' || a.v === '${') {
      if (a.v === '{') {
        if (classDepthPending === depth) classDepthPending = -1;
        else if (isP(prev, '=>') || (isP(prev, ')') && !(isN(t[m[i - 1]! - 1], 'for') || (NOT_FUNCTION_HEAD.has(t[m[i - 1]! - 1]?.v ?? '') && t[m[i - 1]! - 1]!.kind === 'name')))) {
          add(a.e, ` ${CHECK_STMT}`);
        }
      }
      depth++;
      continue;
    }
    if (a.v === ')' || a.v === ']' || a.v === '}') { depth--; continue; }
    if (a.v === '=>' && !isP(t[i + 1], '{')) {
      // An expression body: up to the `,` `;` `:` (of no `?` inside it) or closer that ends it.
      let ternary = 0;
      let j = i + 1;
      for (; j < t.length; j++) {
        const b = t[j]!;
        if (m[j]! > j) { j = m[j]!; continue; }
        if (b.kind !== 'punct') continue;
        if (b.v === ',' || b.v === ';' || b.v === ')' || b.v === ']' || b.v === '}') break;
        if (b.v === '?') ternary++;
        else if (b.v === ':') { if (ternary === 0) break; ternary--; }
      }
      add(t[i + 1]!.s, `(${CHECK_EXPR}, `);
      add(j < t.length ? t[j]!.s : code.length, ')');
    }
  }
  // In offset order; at one offset, in the order added (the sort is stable).
  ins.sort((x, y) => x.at - y.at);
  const parts: string[] = [];
  let from = 0;
  for (const x of ins) {
    parts.push(code.slice(from, x.at), x.text);
    from = x.at;
  }
  parts.push(code.slice(from));
  let out = parts.join('');
  const nl = out.indexOf('\n');
  out = nl < 0 ? `${HEADER}\n${out}` : `${out.slice(0, nl)} ${HEADER}${out.slice(nl)}`;
  // A transform that broke the syntax fails the build, not the boot.
  new vm.Script(`(function () {${out}\n})`, { filename: 'budget-check.js' });
  return out;
}
