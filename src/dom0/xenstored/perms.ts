// Node permissions (xenstored_core.c: perm_for_conn; xs_lib.c:
// xs_strings_to_perms / xs_perm_to_string).
//
// A list of `<letter><domid>`: entry 0 is the owner and the default for every
// other domain; entries 1..n override for one domid each.

export const XS_PERM_NONE = 0;
export const XS_PERM_READ = 1;
export const XS_PERM_WRITE = 2;
export const XS_PERM_BOTH = 3;
export const XS_PERM_OWNER = 8;
export const XS_PERM_ALL = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;

export interface Perm {
  readonly id: number;
  /** XS_PERM_* bits (n=0, r=1, w=2, b=3). */
  readonly perm: number;
}
export type Perms = readonly Perm[];

export const DEFAULT_PERMS: Perms = Object.freeze([{ id: 0, perm: XS_PERM_NONE }]);

const LETTER = ['n', 'r', 'w', 'b'] as const;

export function permToString(p: Perm): string {
  return `${LETTER[p.perm & 3]}${p.id >>> 0}`;
}

/** C strtol(s, &end, 0) requiring the whole string to be consumed; undefined on failure. */
function strtolWhole(s: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  let v: number;
  if (body.length > 1 && (body[1] === 'x' || body[1] === 'X')) v = parseInt(body.slice(2), 16);
  else if (body.length > 1 && body[0] === '0') v = parseInt(body, 8);
  else v = parseInt(body, 10);
  // long is 64-bit; the id is then truncated to unsigned int.
  if (v > 0x7fffffffffffffff) v = 0x7fffffffffffffff;
  if (m[1] === '-') v = -v;
  return Number(BigInt.asUintN(32, BigInt(Math.trunc(v))));
}

/** Parses perm strings; undefined if any is malformed (→ EINVAL). */
export function parsePerms(strs: readonly string[]): Perm[] | undefined {
  const out: Perm[] = [];
  for (const s of strs) {
    const l = LETTER.indexOf(s[0] as (typeof LETTER)[number]);
    if (l < 0) return undefined;
    const rest = s.slice(1);
    if (rest.length === 0) return undefined;
    const id = strtolWhole(rest);
    if (id === undefined) return undefined;
    out.push({ id, perm: l });
  }
  return out;
}

/** What perm_for_conn needs to know about the asking connection. */
export interface PermSubject {
  readonly domid: number;
  readonly privileged: boolean;
  /** SET_TARGET: this domain acts with the rights of `target`. */
  readonly target: number | undefined;
}

/**
 * Generation at which a domid was (last) introduced/allocated, or undefined if
 * it does not exist. Entries naming a domain that is gone, or that appeared
 * after the node was written (a reused domid, XSA-322), are ignored.
 */
export type DomainGeneration = (domid: number) => number | undefined;

function live(gens: DomainGeneration, id: number, nodeGen: number): boolean {
  const g = gens(id);
  return g !== undefined && g <= nodeGen;
}

/** cxenstored's perm_for_conn: XS_PERM_* bits including OWNER. */
export function permForConn(s: PermSubject, perms: Perms, nodeGen: number, gens: DomainGeneration): number {
  if (s.privileged) return XS_PERM_ALL;
  const owner = perms[0]!.id;
  if ((owner === s.domid || (s.target !== undefined && owner === s.target)) && live(gens, owner, nodeGen)) return XS_PERM_ALL;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i]!;
    if ((p.id === s.domid || (s.target !== undefined && p.id === s.target)) && live(gens, p.id, nodeGen)) return p.perm & 3;
  }
  return perms[0]!.perm & 3;
}
