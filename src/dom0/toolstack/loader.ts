// Host side: boots a kernel bundle into its own node:vm realm (the tender of
// Solo5's split: tenders/ on the host, bindings/ in the guest). The realm gets only: the doors (per vCPU, at start), a virtual `Date`
// (the simulator's clock + a fixed epoch), a seeded `Math.random`, and
// setTimeout/setInterval shims that run on the guest's own virtual clock (the
// runtime's timer heap, see src/guest/runtime.ts). `microtaskMode:
// 'afterEvaluate'` keeps guest microtasks inside the guest: the loader drains
// them after each host->guest call (and the runtime drains them from its main
// loop through `__xenode_drain` before it blocks).
//
// A kernel that throws, loops forever while booting (Script timeout), or
// otherwise fails is reported with its domain id through `onCrash` and marked
// crashed; it never takes the host down.
//
// After boot, resumes run without a watchdog thread (~65 µs a call). What
// bounds them is the step budget that src/machine/budget.ts inserts when a
// kernel is bundled: the bundle hands its counter cell to BUDGET_HOOK before
// any guest code runs, the loader refills it (LoadOptions.budget) before every
// resume and every top-level interrupt, and a slice that empties it is crashed
// with WATCHDOG_MESSAGE, as Xen's watchdog crashes a domain (xen:
// common/sched/core.c: domain_watchdog_timeout). A bundle built without the
// transform has no cell: only its boot is guarded.
//
// Stack traces name the bundle (`<scriptName>.js:LINE:COL`: the kernel's name
// when the domain builder loads it, so every domain of that kernel shares one
// compiled Script); with the bundle's source map, `mapStack` rewrites each
// bare `*.js:L:C` position to the kernel's or the runtime's .ts line. The map is parsed on the first use only: a kernel that
// never crashes pays nothing for it.

import { SourceMap } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import type { GuestDoors, GuestEntry } from '../../abi/doors.ts';
import { acquireRealm } from './realm_pool.ts';
import { releaseGuestRealm } from './realm_release.ts';

/** Wall clock at system time 0: the day of the xen-devel report (2020-06-15T00:00:00Z). */
export const DEFAULT_WALL_EPOCH_NS = Date.UTC(2020, 5, 15) * 1e6;

/** The bundle's budget names (src/machine/budget.ts inserts them; reserved in kernels). */
export const BUDGET_CELL = '__xenode_budget_cell';
export const BUDGET_OVER = '__xenode_budget_over';
export const BUDGET_HOOK = '__xenode_budget_hook';
/** The property that marks the over-budget error. */
export const BUDGET_MARK = '__xenodeOverBudget';
/** Steps one slice may take (one per loop iteration and function entry): a spin of 2^26 steps is ~0.1 s of host time. */
export const DEFAULT_SLICE_BUDGET = 1 << 26;
/** What the hypervisor console says when a slice ran out of steps. */
export const watchdogMessage = (domid: number, budget: number) => `Watchdog timer fired for domain ${domid} (a guest slice ran over its budget of ${budget} steps)`;

export interface LoadOptions {
  domid: number;
  name?: string;
  /** Virtual system time in ns (the simulator's clock). */
  now: () => number;
  wallEpochNs?: number;
  /** Seed for the realm's Math.random (e.g. from a sim stream). */
  seed?: number;
  /** Timeout for evaluating the bundle and for the first resume (boot), ms. */
  bootTimeoutMs?: number;
  /** Guard every resume with a timeout too (slow: ~65 µs per call). */
  guardAlways?: boolean;
  /**
   * What the boot depends on besides the bundle (the domain builder passes
   * the command line and memory size). The first resume runs under the boot
   * timeout (a watchdog thread per call) until this bundle has once booted
   * with this key well within the limit; after that it runs unguarded. Without
   * a key every boot is guarded.
   */
  bootKey?: string;
  /** Steps per slice for a budgeted bundle (default DEFAULT_SLICE_BUDGET). */
  budget?: number;
  /** Called once when the kernel crashes (exception, boot timeout, bad bundle). */
  onCrash?: (domid: number, message: string) => void;
  /** The bundle's source map (JSON, absolute `sources`); positions are shown relative to the current directory. */
  sourceMap?: string;
  /**
   * The file name stack traces give the bundle (`<scriptName>.js`; default
   * the domain's name). Every domain booting the same bundle text under the
   * same script name shares one compiled Script, its bytecode included: the
   * domain builder passes the kernel's name, so 10,000 domains of one kernel
   * compile it once instead of once per domain name.
   */
  scriptName?: string;
}

export interface LoadedKernel {
  readonly domid: number;
  readonly name: string;
  readonly context: vm.Context;
  /** Why the kernel crashed (host-detected), if it did. */
  crashed: string | undefined;
  /** Whether the bundle carries the step budget (src/machine/budget.ts). */
  readonly budgeted: boolean;
  /** Start vCPU `doors.vcpuId` at the PVH entry point with %ebx = startInfoPaddr. */
  start(doors: GuestDoors, startInfoPaddr: number): GuestEntry;
  /** Run the realm's pending microtasks. */
  drain(): void;
  /** `text` with every `<name>.js:L:C` of this bundle replaced by its .ts position (unchanged without a source map). */
  mapStack(text: string): string;
  /** The run is over: its microtasks drained (bounded), the realm goes back to the pool if it scrubs back to a fresh one (realm_release.ts, realm_pool.ts); entries do nothing after. */
  release(): void;
}

const PRELUDE = `(function (host) {
  'use strict';
  const RealDate = Date;
  const wallMs = () => host.wallMs();
  function VDate(...a) {
    if (!new.target) return new RealDate(wallMs()).toString();
    return Reflect.construct(RealDate, a.length === 0 ? [wallMs()] : a, new.target);
  }
  // Its own prototype (constructor VDate) in front of Date.prototype: a store of "constructor" on Date.prototype
  // makes V8 walk every realm of the host (LookupIterator::InternalUpdateProtector), O(domains) per boot.
  VDate.prototype = Object.create(RealDate.prototype, { constructor: { value: VDate, writable: true, configurable: true } });
  VDate.now = wallMs;
  VDate.UTC = RealDate.UTC;
  VDate.parse = RealDate.parse;
  globalThis.Date = VDate;
  // sfc32 seeded by the host.
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = host.seed >>> 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0; a = b ^ (b >>> 9); b = (c + (c << 3)) | 0; c = (c << 21) | (c >>> 11); c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  Math.random = next;
  const T = () => {
    const t = globalThis.__xenode_timers;
    if (!t) throw new Error('timers are not available before the runtime has started');
    return t;
  };
  globalThis.setTimeout = (fn, ms, ...args) => T().set(fn, ms, false, args);
  globalThis.setInterval = (fn, ms, ...args) => T().set(fn, ms, true, args);
  globalThis.clearTimeout = (id) => { if (id !== undefined) T().clear(id); };
  globalThis.clearInterval = (id) => { if (id !== undefined) T().clear(id); };
})`;

export function loadKernel(code: string, opts: LoadOptions): LoadedKernel {
  const domid = opts.domid;
  const name = opts.name ?? `domU-${domid}`;
  const bootTimeout = opts.bootTimeoutMs ?? 2000;
  const epoch = opts.wallEpochNs ?? DEFAULT_WALL_EPOCH_NS;
  const realm = acquireRealm(`${name} (d${domid})`);
  const ctx = realm.ctx;
  let released = false;
  const drain = () => drainScript.runInContext(ctx);
  const budget = opts.budget ?? DEFAULT_SLICE_BUDGET;
  if (!(Number.isInteger(budget) && budget > 0 && budget < 2 ** 31)) throw new Error(`loadKernel: budget ${budget} is not an integer in 1..2^31-1`);
  /** The bundle's counter (a guest-realm Int32Array), once the bundle's first line handed it over. */
  let cell: Int32Array | undefined;
  ctx[BUDGET_HOOK] = (c: Int32Array) => {
    ignoreBudgetRejections();
    cell = c;
    c[0] = budget;
  };
  const k: LoadedKernel = {
    domid,
    name,
    context: ctx,
    crashed: undefined,
    get budgeted() {
      return cell !== undefined;
    },
    start,
    drain,
    mapStack: (text) => mapStack(text, opts.sourceMap),
    release() {
      if (released) return;
      released = true;
      releaseGuestRealm({ realm, crashed: k.crashed !== undefined, cell, budget, drain });
    },
  };
  const crash = (e: unknown) => {
    if (k.crashed !== undefined) return;
    k.crashed = cell !== undefined && cell[0]! < 0 ? watchdogMessage(domid, budget) : describe(e, bootTimeout);
    opts.onCrash?.(domid, k.crashed);
  };
  ctx.__xenode_drain = drain;
  try {
    (preludeScript.runInContext(ctx) as (h: unknown) => void)({
      wallMs: () => Math.floor((epoch + opts.now()) / 1e6),
      seed: opts.seed ?? 0,
    });
    // The watchdog (a thread per call) guards a bundle's top level until it
    // has once completed well within the limit: the top level of the same
    // bundle text (module initialisation and kernel(main)) then runs unguarded.
    const entry = cacheEntry(code);
    const script = compiled(code, opts.scriptName ?? name);
    if (entry.topLevelOk) script.runInContext(ctx);
    else {
      const t0 = performance.now();
      script.runInContext(ctx, { timeout: bootTimeout });
      if (performance.now() - t0 < bootTimeout / 10) entry.topLevelOk = true;
    }
    overBudget();
  } catch (e) {
    crash(e);
  } finally {
    delete ctx[BUDGET_HOOK];
  }

  /** A slice that ran out of steps but returned anyway (a guest catch swallowed the throw) is crashed all the same. */
  function overBudget(): void {
    if (cell !== undefined && cell[0]! < 0) crash(new Error('over budget'));
  }

  /** Boot keys this bundle text booted with, quickly, under the watchdog. */
  const bootsOk = cacheEntry(code).bootsOk;

  function start(doors: GuestDoors, startInfoPaddr: number): GuestEntry {
    let inner: GuestEntry | undefined;
    let booted = false;
    const slot = `__xenode_entry_${doors.vcpuId}`;
    if (k.crashed === undefined) {
      try {
        // A direct call (no Script to compile, no watchdog thread): the
        // runtime's start (kernel() in index.ts) only builds the entry; the
        // kernel's own code first runs in the first resume, which runs under
        // the boot timeout.
        const kern = ctx.__xenode_kernel as { start?: (d: GuestDoors, pa: number) => GuestEntry } | undefined;
        if (typeof kern?.start !== 'function') throw new Error('the bundle did not register a kernel (call kernel(main))');
        inner = kern.start(doors, Number(startInfoPaddr));
        ctx[slot] = inner;
      } catch (e) {
        crash(e);
      }
    }
    const resumeScript = (resumeScripts[slot] ??= new vm.Script(`${slot}.resume()`));
    let inResume = 0;
    // The runtime publishes Lwt's `native` flags: skip the (3 µs) drain while no
    // native promise continuation can be waiting.
    // (The flags object never changes once published: read it from the context once.)
    let nativeFlags: { seen?: boolean } | undefined;
    const mayHaveMicrotasks = () => {
      const n = (nativeFlags ??= ctx.__xenode_native as { seen?: boolean } | undefined);
      return !n || n.seen === true;
    };
    return {
      resume() {
        if (k.crashed !== undefined || !inner || released) return;
        try {
          inResume++;
          const first = !booted;
          booted = true;
          if (cell !== undefined) cell[0] = budget;
          if (opts.guardAlways || (first && !(opts.bootKey !== undefined && bootsOk.has(opts.bootKey)))) {
            const t0 = performance.now();
            resumeScript.runInContext(ctx, { timeout: bootTimeout });
            if (first && opts.bootKey !== undefined && k.crashed === undefined && performance.now() - t0 < bootTimeout / 10) bootsOk.add(opts.bootKey);
          } else {
            inner.resume();
            if (mayHaveMicrotasks()) drain();
          }
          overBudget();
        } catch (e) {
          crash(e);
        } finally {
          inResume--;
        }
      },
      interrupt(vector: number) {
        if (k.crashed !== undefined || !inner || released) {
          doors.eoi();
          return;
        }
        try {
          // Nested in a resume (a door call): the resume's slice; at top level a slice of its own.
          if (inResume === 0 && cell !== undefined) cell[0] = budget;
          inner.interrupt(vector);
          if (inResume === 0) overBudget();
        } catch (e) {
          const exit = (e as { __xenodeExit?: boolean })?.__xenodeExit === true;
          if (!exit) crash(e);
          // Nested in guest code (a door call): unwind the guest. At top level: swallow.
          if (inResume > 0) throw e;
        }
      },
    };
  }
  return k;
}

/**
 * The over-budget throw inside a guest promise callback (a `then` handler, an
 * async function) rejects a promise no one handles, and Node turns an
 * unhandled rejection into an uncaught exception: the host would die of the
 * guest's crash. This listener drops those rejections (the domain is crashed
 * already) and, when it is the only listener, treats every other one as Node
 * does by default (--unhandled-rejections=throw): it throws it.
 */
let budgetListener: ((reason: unknown) => void) | undefined;
function ignoreBudgetRejections(): void {
  if (budgetListener) return;
  budgetListener = (reason: unknown) => {
    if ((reason as Record<string, unknown> | null)?.[BUDGET_MARK] === true) return;
    if (process.listenerCount('unhandledRejection') === 1) throw reason;
  };
  process.on('unhandledRejection', budgetListener);
}

/** Runs nothing: returning from it drains the context's microtask queue (microtaskMode 'afterEvaluate'). Compiled once: a Script is not bound to a context. */
const drainScript = new vm.Script('void 0');

/** `__xenode_entry_N.resume()` per vCPU slot (a Script is not bound to a context). */
const resumeScripts: Record<string, vm.Script> = {};

let preludeScript_: vm.Script | undefined;
const preludeScript = { runInContext: (ctx: vm.Context) => (preludeScript_ ??= new vm.Script(PRELUDE, { filename: 'xenode-prelude.js' })).runInContext(ctx) };

/**
 * Builtins the bundle sees as closure bindings instead of global lookups. A
 * global lookup in a vm context goes through the contextified global's
 * interceptors (~200 ns, against ~1 ns for a local: `Math.clz32` in the
 * demux loop cost more than the rest of it). Only builtins that nothing
 * replaces are bound (not Date, console, timers: the prelude and the runtime
 * install those), and they are bound after the prelude ran, so they are the
 * very objects a global lookup would find.
 */
const BOUND_GLOBALS = [
  'globalThis', 'Math', 'Object', 'Array', 'Number', 'String', 'Boolean', 'Symbol', 'BigInt', 'JSON', 'Reflect',
  'Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'Promise', 'Map', 'Set', 'WeakMap', 'WeakSet',
  'ArrayBuffer', 'DataView', 'Uint8Array', 'Uint16Array', 'Uint32Array', 'Int8Array', 'Int16Array', 'Int32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'isNaN', 'isFinite', 'parseInt', 'parseFloat',
].join(',');

/**
 * The bundle inside a function whose parameters are the bound builtins. The
 * prefix is on the bundle's first line (line numbers in stack traces are
 * unchanged) and the bundle's "use strict" stays the function's directive.
 */
function wrapBundle(code: string): string {
  return `(function (${BOUND_GLOBALS}) {${code}\n}).call(this, ${BOUND_GLOBALS});`;
}

/**
 * Per bundle text: the V8 code cache, and the compiled Script per file name (a
 * Script is not bound to a context: booting the same kernel again under the
 * same name neither compiles nor deserialises).
 */
interface CacheEntry {
  data: Buffer | undefined;
  scripts: Map<string, vm.Script>;
  /** The bundle's top level completed once, quickly, under the watchdog. */
  topLevelOk: boolean;
  /** LoadOptions.bootKey values whose first resume completed quickly under the watchdog. */
  bootsOk: Set<string>;
}
const codeCache = new Map<string, CacheEntry>();
function cacheEntry(code: string): CacheEntry {
  let e = codeCache.get(code);
  if (!e) codeCache.set(code, (e = { data: undefined, scripts: new Map(), topLevelOk: false, bootsOk: new Set() }));
  return e;
}
function compiled(code: string, name: string): vm.Script {
  const filename = `${name}.js`;
  const hit = cacheEntry(code);
  const reuse = hit.scripts.get(filename);
  if (reuse) return reuse;
  const script = new vm.Script(wrapBundle(code), { filename, ...(hit.data ? { cachedData: hit.data } : {}) });
  if (!hit.data || script.cachedDataRejected) hit.data = script.createCachedData();
  if (hit.scripts.size < 64) hit.scripts.set(filename, script);
  return script;
}

const parsedMaps = new Map<string, SourceMap>();

/** A bundle position in a stack: a bare `name.js:LINE:COL` (host frames carry absolute paths or `node:`). */
const BUNDLE_POS = /(?<![\w/.:-])([\w.-]+\.js):(\d+):(\d+)/g;

/**
 * Rewrite the bundle's `name.js:LINE:COL` positions (1-based, as V8 prints
 * them) to the original source's, through the source map. A position the map
 * does not cover stays as it is.
 */
export function mapStack(text: string, sourceMap: string | undefined): string {
  if (sourceMap === undefined || !text.includes('.js:')) return text;
  let map = parsedMaps.get(sourceMap);
  if (!map) {
    map = new SourceMap(JSON.parse(sourceMap));
    if (parsedMaps.size >= 16) parsedMaps.clear();
    parsedMaps.set(sourceMap, map);
  }
  return text.replace(BUNDLE_POS, (whole, _file: string, l: string, c: string) => {
    const e = map.findEntry(Number(l) - 1, Number(c) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (e.originalSource === undefined || e.originalLine === undefined) return whole;
    const src = e.originalSource.startsWith('file://') ? new URL(e.originalSource).pathname : e.originalSource;
    return `${path.relative(process.cwd(), src) || src}:${e.originalLine + 1}:${(e.originalColumn ?? 0) + 1}`;
  });
}

function describe(e: unknown, timeout: number): string {
  const err = e as { code?: string; message?: string; stack?: string; name?: string };
  if (err?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return `kernel did not return within ${timeout} ms (infinite loop?)`;
  if (err && typeof err === 'object' && 'message' in err) return `${err.name ?? 'Error'}: ${err.message}`;
  return String(e);
}
