// A request's arguments and a reply's strings as cxenstored reads and writes
// them (xenstored_core.c: onearg, get_strings; replies are NUL-terminated).

import { latin1 } from '../../abi/xs_wire.ts';

/** cxenstored's onearg(): the whole payload is one NUL-terminated string. */
export function onearg(p: Uint8Array): string | undefined {
  const n = p.length;
  if (n === 0 || p[n - 1] !== 0) return undefined;
  const i = p.indexOf(0);
  return i === n - 1 ? latin1(p, 0, i) : undefined;
}

/** cxenstored's get_strings(): complete NUL-terminated strings, at most `max`; trailing bytes ignored. */
export function getStrings(p: Uint8Array, max = Infinity): string[] {
  const out: string[] = [];
  let off = 0;
  while (out.length < max) {
    const i = p.indexOf(0, off);
    if (i < 0) break;
    out.push(latin1(p, off, i));
    off = i + 1;
  }
  return out;
}

/** C atoi(): optional blanks and sign, then digits; anything else stops. Wraps like a 32-bit int. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(s);
  if (!m || !m[2]) return 0;
  let v = 0;
  for (const ch of m[2].slice(-12)) v = (v * 10 + ch.charCodeAt(0) - 48) % 4294967296;
  if (m[1] === '-') v = -v;
  return v | 0;
}

export function asciiz(s: string): Uint8Array {
  const out = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

export function countNuls(p: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === 0) n++;
  return n;
}
