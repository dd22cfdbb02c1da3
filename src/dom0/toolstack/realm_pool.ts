// Guest realms (node:vm contexts) reused across runs, for `xenode explore`,
// which boots thousands of short-lived guests per thread: a fresh context
// costs ~1 ms of CPU (vm.createContext builds a whole set of builtins), and
// a finished guest's context keeps its machine reachable until the next full
// GC (every scavenge in between copies it).
//
// A realm goes back to the pool only when it is provably the same as a fresh
// one, so that a run in a reused realm gives the same result as in a fresh
// one (test/dom0/toolstack/realm_pool.test.ts, test/machine/explore_realms.test.ts;
// `--check-determinism` runs a schedule's first copy in reused realms and the
// second in fresh ones):
//   1. its microtask queue is drained (jobs the last run left: they belong to
//      the finished machine), then
//   2. scrubbed: every global the loader or the guest added is deleted, and
//      what the prelude or the runtime replaced (Date, Math.random, console)
//      is put back, and Date.prototype.constructor too (the prelude no longer
//      stores it, the scale fix; a guest may), and RegExp's legacy statics
//      ($1…, lastMatch, input: realm state no property holds) are reset by a
//      match of the empty string;
//   3. verified: every object reachable from the global object (each builtin,
//      its prototype, each method, transitively: ~690 objects, ~2,100
//      properties) is compared: the same keys in the same order, the same
//      attributes, the same primitive values and objects, the same
//      [[Prototype]] and extensibility. The first time the walk is matched
//      against a fresh realm's, recorded once per thread (objects as walk
//      indices); once it matched, the realm's own objects are recorded and
//      later checks compare against those (~0.4 ms, against ~1 ms for a new
//      context). One difference (a guest wrote `Array.prototype.x`, froze
//      `Object`, replaced a method) and the realm is dropped, not pooled.
// The loader gives back only a realm whose guest did not crash and whose
// microtask queue emptied within the step budget (realm_release.ts: a
// runtime that saw native promises is drained first): the others are
// dropped (dropRealm), scrubbed only so that they no longer hold the
// finished machine.
// The walk runs on the host side with the host's own builtins (Reflect of the
// main realm), so a guest that replaced the realm's Reflect or a prototype
// method cannot steer it; descriptors are read, never getters called.
//
// What the walk cannot see and why it does not matter: private fields stamped
// on a builtin (a private name belongs to one evaluation of a class, and the
// next run evaluates the bundle anew), and the Symbol.for registry (shared by
// every realm of the thread, pooled or not).
import vm from 'node:vm';

export interface Realm {
  readonly ctx: vm.Context;
  /** The realm's own `Date` and `Math.random`, before the prelude replaced them (`date` also restores `Date.prototype.constructor`). */
  readonly date: unknown;
  readonly random: unknown;
  /** The global object's own properties as created (the runtime replaces `console`, the prelude `Date`). */
  readonly globals: ReadonlyMap<PropertyKey, PropertyDescriptor>;
  /** Times this realm was handed out (1 = fresh). */
  uses: number;
  /** Its own objects and properties, recorded once it was verified against a fresh realm's shape: later checks compare against these. */
  snap?: Snap;
}

/** Realms kept per thread (a campaign worker boots one or two guests at a time). */
export const REALM_POOL_SIZE = 8;

const pool: Realm[] = [];
let pooling = true;
/** What a fresh realm looks like (walk order), recorded once per thread from the first fresh realm. */
let canonical: Shape | undefined;

/** Turn reuse off (tests comparing reused and fresh realms) or on; off empties the pool. */
export function setRealmPooling(on: boolean): void {
  pooling = on;
  if (!on) pool.length = 0;
}

let forceFresh = 0;

/**
 * Run `fn` with every realm it acquires fresh (the pool is kept): a
 * determinism check runs a schedule once on reused realms and once on fresh
 * ones and compares (campaign.ts runChecked).
 */
export async function withFreshRealms<T>(fn: () => Promise<T>): Promise<T> {
  forceFresh++;
  try {
    return await fn();
  } finally {
    forceFresh--;
  }
}

export const realmStats = { created: 0, reused: 0, released: 0, dropped: 0 };

const OPTIONS = { microtaskMode: 'afterEvaluate', codeGeneration: { strings: false, wasm: false } } as const;

/** A realm for a guest: a pooled one, or a fresh one named `name` (the name shows in the inspector only). */
export function acquireRealm(name: string): Realm {
  const r = pooling && forceFresh === 0 ? pool.pop() : undefined;
  if (r) {
    r.uses++;
    realmStats.reused++;
    return r;
  }
  const ctx = vm.createContext({}, { name, ...OPTIONS });
  realmStats.created++;
  const pristine = intrinsicsScript.runInContext(ctx) as { date: unknown; random: unknown };
  const g = globalScript.runInContext(ctx) as object;
  const globals = new Map(Reflect.ownKeys(g).map((k) => [k, Reflect.getOwnPropertyDescriptor(g, k)!]));
  return { ctx, date: pristine.date, random: pristine.random, globals, uses: 1 };
}

/**
 * Give a realm back after its run is over (nothing of that run may call into
 * it again). Pooled if it scrubs back to a fresh realm's shape (see the
 * header); returns whether it was.
 */
export function releaseRealm(r: Realm): boolean {
  if (!pooling || pool.length >= REALM_POOL_SIZE) return false;
  try {
    drainScript.runInContext(r.ctx);
    scrub(r);
    if (!canonical) canonical = shapeOf(freshGlobal());
    const g = globalScript.runInContext(r.ctx) as object;
    // The first time against a fresh realm's shape (and then its own objects are recorded); after that against those.
    const same = r.snap ? unchanged(r.snap) : sameShape(g, canonical);
    if (!same) {
      realmStats.dropped++;
      return false;
    }
    r.snap ??= snapOf(g);
  } catch {
    realmStats.dropped++;
    return false;
  }
  realmStats.released++;
  pool.push(r);
  return true;
}

/**
 * A realm that is not to be reused (its guest crashed, or its jobs kept
 * queueing more until the budget ran out): only its globals are scrubbed, so that the finished guest
 * (and through its doors the whole machine) is no longer reachable from the
 * context, which lives on until a full GC.
 */
export function dropRealm(r: Realm): void {
  realmStats.dropped++;
  try {
    scrub(r);
  } catch {
    // a guest made a global non-configurable: the context keeps it until it is collected
  }
}

/** Delete what was added to the global object, put back what the prelude replaced, reset RegExp's statics. */
function scrub(r: Realm): void {
  const g = globalScript.runInContext(r.ctx) as Record<PropertyKey, unknown>;
  for (const k of Reflect.ownKeys(g)) {
    const was = r.globals.get(k);
    if (!was) Reflect.deleteProperty(g, k);
    // Redefined in place, not deleted first: a deleted builtin would come back at the end of the key order.
    else if (!sameDescriptor(Reflect.getOwnPropertyDescriptor(g, k), was)) Reflect.defineProperty(g, k, was);
  }
  const math = Reflect.getOwnPropertyDescriptor(g, 'Math')?.value as object;
  putBack(math, 'random', r.random);
  const proto = Reflect.getOwnPropertyDescriptor(r.date as object, 'prototype')?.value as object;
  putBack(proto, 'constructor', r.date);
  regexpResetScript.runInContext(r.ctx);
}

/**
 * Make `o[k]` the builtin's own method `value` again, as created (writable,
 * configurable, not enumerable), if it is not: Math.random is always replaced
 * (the prelude), Date.prototype.constructor hardly ever, and a store of
 * "constructor" on a prototype makes V8 check its protectors in every realm.
 */
function putBack(o: object, k: string, value: unknown): void {
  const want = { value, writable: true, enumerable: false, configurable: true };
  if (!sameDescriptor(Reflect.getOwnPropertyDescriptor(o, k), want)) Reflect.defineProperty(o, k, want);
}

function sameDescriptor(a: PropertyDescriptor | undefined, b: PropertyDescriptor): boolean {
  return a !== undefined && Object.is(a.value, b.value) && a.get === b.get && a.set === b.set && a.writable === b.writable && a.enumerable === b.enumerable && a.configurable === b.configurable;
}

/** Runs nothing: returning drains the realm's microtask queue (microtaskMode 'afterEvaluate'). */
const drainScript = new vm.Script('void 0');
const globalScript = new vm.Script('globalThis');
const intrinsicsScript = new vm.Script('({ date: Date, random: Math.random })');
/** A fresh realm's RegExp statics are all '': a match of '' against '' with no groups leaves them so. */
const regexpResetScript = new vm.Script("/(?:)/.exec('')");

function freshGlobal(): object {
  const ctx = vm.createContext({}, OPTIONS);
  regexpResetScript.runInContext(ctx);
  return globalScript.runInContext(ctx) as object;
}

/**
 * A realm's object graph from its global object, in walk order: per object
 * its [[Prototype]] and extensibility, and per own property (Reflect.ownKeys
 * order) its attributes and value, an object given as its walk index.
 */
interface Shape {
  /** Flat: per object [protoRef, extensible, nKeys, then per key: key, flags, valueRef, getRef, setRef]. */
  readonly cells: unknown[];
}

const OBJ = (o: unknown): o is object => (typeof o === 'object' && o !== null) || typeof o === 'function';

/** Walks the graph, calling `cell` with each entry in order; stops early when `cell` returns false. */
function walk(root: object, cell: (v: unknown) => boolean): boolean {
  const index = new Map<object, number>();
  const queue: object[] = [root];
  index.set(root, 0);
  // An object is named by its walk index; a new one is queued (breadth-first, so the order is fixed by the graph alone).
  const ref = (v: unknown): unknown => {
    if (!OBJ(v)) return v;
    let i = index.get(v);
    if (i === undefined) {
      i = queue.length;
      index.set(v, i);
      queue.push(v);
    }
    return marker(i);
  };
  for (let q = 0; q < queue.length; q++) {
    const o = queue[q]!;
    const keys = Reflect.ownKeys(o);
    if (!cell(ref(Reflect.getPrototypeOf(o)))) return false;
    if (!cell(Reflect.isExtensible(o)) || !cell(keys.length)) return false;
    for (const k of keys) {
      const d = Reflect.getOwnPropertyDescriptor(o, k)!;
      const flags = (d.writable ? 1 : 0) | (d.enumerable ? 2 : 0) | (d.configurable ? 4 : 0) | ('value' in d ? 8 : 0);
      if (!cell(k) || !cell(flags)) return false;
      if (!cell(ref(d.value)) || !cell(ref(d.get)) || !cell(ref(d.set))) return false;
    }
  }
  return true;
}

/**
 * Object number i of a walk as a cell: one host object per index, shared by
 * every walk, so it equals (Object.is) only itself and never a primitive a
 * guest could store (primitives compare as themselves; -0 and NaN too).
 */
const markers: object[] = [];
function marker(i: number): object {
  while (markers.length <= i) markers.push(Object.freeze({ walkIndex: markers.length }));
  return markers[i]!;
}

function shapeOf(g: object): Shape {
  const cells: unknown[] = [];
  walk(g, (v) => {
    cells.push(v);
    return true;
  });
  return { cells };
}

/** A realm's own graph, flat: the objects in walk order, and per object its [[Prototype]], extensibility, keys and their descriptors. */
interface Snap {
  readonly objs: object[];
  readonly protos: (object | null)[];
  readonly ext: boolean[];
  readonly keys: PropertyKey[][];
  /** Per object, per key: value, get, set, flags. */
  readonly props: unknown[][];
  /** Per object, the indices (into its keys) of the properties whose descriptor is read again: not the frozen ones (see fixedProp). */
  readonly recheck: number[][];
}

/**
 * A property no run can change, so its descriptor need not be read again: a
 * non-configurable, non-writable data property of an ordinary object (ES
 * invariant: its value and attributes stay, and it cannot be deleted; its
 * place in the key order then stays too). Not on the global object, whose
 * properties the vm module serves through interceptors. ~130 of the ~2,100
 * properties (prototype of each constructor, Math's and Number's constants,
 * the well-known symbols), among them the own `arguments` and `caller` of the
 * WebAssembly constructors and of the global's constructor (API functions),
 * whose descriptor's value V8 computes by walking the caller's stack (each
 * read ~2 us, against ~0.15 us for a plain one; more under a deep stack).
 */
function fixedProp(isGlobal: boolean, flags: number): boolean {
  return !isGlobal && (flags & (FLAG_WRITABLE | FLAG_CONFIGURABLE | FLAG_DATA)) === FLAG_DATA;
}

const FLAG_WRITABLE = 1;
const FLAG_CONFIGURABLE = 4;
const FLAG_DATA = 8;

function flagsOf(d: PropertyDescriptor): number {
  return (d.writable ? FLAG_WRITABLE : 0) | (d.enumerable ? 2 : 0) | (d.configurable ? FLAG_CONFIGURABLE : 0) | ('value' in d ? FLAG_DATA : 0);
}

function snapOf(g: object): Snap {
  const s: Snap = { objs: [], protos: [], ext: [], keys: [], props: [], recheck: [] };
  const seen = new Set<object>([g]);
  const add = (v: unknown) => {
    if (OBJ(v) && !seen.has(v)) {
      seen.add(v);
      s.objs.push(v);
    }
  };
  s.objs.push(g);
  for (let i = 0; i < s.objs.length; i++) {
    const o = s.objs[i]!;
    const proto = Reflect.getPrototypeOf(o);
    const keys = Reflect.ownKeys(o);
    const props: unknown[] = [];
    const recheck: number[] = [];
    for (const k of keys) {
      const d = Reflect.getOwnPropertyDescriptor(o, k)!;
      const flags = flagsOf(d);
      if (!fixedProp(o === g, flags)) recheck.push(props.length / 4);
      props.push(d.value, d.get, d.set, flags);
      add(d.value);
      add(d.get);
      add(d.set);
    }
    add(proto);
    s.protos.push(proto);
    s.ext.push(Reflect.isExtensible(o));
    s.keys.push(keys);
    s.props.push(props);
    s.recheck.push(recheck);
  }
  return s;
}

/** Every recorded object still has its recorded [[Prototype]], extensibility, keys (in order) and descriptors (those a run can change: fixedProp). */
function unchanged(s: Snap): boolean {
  for (let i = 0; i < s.objs.length; i++) {
    const o = s.objs[i]!;
    if (Reflect.getPrototypeOf(o) !== s.protos[i] || Reflect.isExtensible(o) !== s.ext[i]) return false;
    const keys = Reflect.ownKeys(o);
    const want = s.keys[i]!;
    if (keys.length !== want.length) return false;
    for (let j = 0; j < keys.length; j++) if (keys[j] !== want[j]) return false;
    const p = s.props[i]!;
    for (const j of s.recheck[i]!) {
      const d = Reflect.getOwnPropertyDescriptor(o, want[j]!)!;
      if (!Object.is(d.value, p[4 * j]) || d.get !== p[4 * j + 1] || d.set !== p[4 * j + 2] || flagsOf(d) !== p[4 * j + 3]) return false;
    }
  }
  return true;
}

function sameShape(g: object, s: Shape): boolean {
  let i = 0;
  const ok = walk(g, (v) => Object.is(v, s.cells[i++]));
  return ok && i === s.cells.length;
}
