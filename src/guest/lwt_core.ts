// The Lwt promise itself, after ocsigen/lwt src/core/lwt.ml (the names are
// lwt.mli's): its states, how a resolution runs its callbacks (at once up to
// MAX_DEPTH nested resolutions, else through the run queue, lwt_queue.ts),
// proxies, and bind/map, whose step the resolution runs inline. How this
// differs from Lwt is listed in lwt.ts, the facade kernels import.
//
// A small promise type of our own (RxJS AsyncSubject chains overflow the
// stack at ~1000 nested binds). States: pending (with callbacks),
// fulfilled, rejected, or proxy (an alias of another promise, Lwt's
// make_into_proxy). A proxy points at the caller's promise, as in lwt.ml
// (settleWith).
//
// `.then` exists so that `await p` works in kernels; a native continuation is
// then on the realm's microtask queue, which the main loop drains through the
// loader (see main.ts: `nativeSeen`).

import { push3 } from './lwt_queue.ts';

/** @internal A listener: a callback, or the output promise of a bind (its function in `v` while pending: no closure per bind). */
export type Cb = ((p: Lwt<any>) => void) | Lwt<any>;

/** @internal */ export const PENDING = 0;
/** @internal */ export const FULFILLED = 1;
/** @internal */ export const REJECTED = 2;
const PROXY = 3;

/**
 * Lwt's how_to_cancel, in the field `k` of a pending promise: undefined =
 * Not_cancelable (`wait`), CANCEL_THIS = Cancel_this_promise (`task`,
 * `protected_`), a promise = Propagate_cancel_to_one (the output of bind,
 * map, catch_), an array = Propagate_cancel_to_several (join, all, choose,
 * pick).
 */
export const CANCEL_THIS = 1;

/** Callback nesting bound (lwt.ml: default_maximum_callback_nesting_depth). */
const MAX_DEPTH = 42;

/** Lwt.Canceled: what a canceled promise is rejected with. */
export class Canceled extends Error {
  override readonly name = 'Canceled';
  constructor() {
    super('Lwt.Canceled');
  }
}

/** The one Canceled value `cancel` rejects with (OCaml's constant constructor). */
export const CANCELED: Canceled = new Canceled();

/** Nested resolutions on the stack now (Lwt: current_callback_nesting_depth). */
let depth = 0;
/** Set when a native continuation (await / .then from native code) may be queued. */
export const native = { seen: false, dirty: false };

/**
 * Where an on_cancel callback's exception goes (Lwt.async_exception_hook).
 * Lwt's default exits the process; ours rethrows, so the main loop crashes the
 * domain with `Fatal error: …`.
 */
export const hooks = {
  async_exception: (e: unknown): void => {
    throw e;
  },
};

/** @internal */
export function enqueueCb(cb: Cb, p: Lwt<any>): void {
  if (typeof cb === 'function') push3(cb, p, undefined);
  else push3(bindStep, p, cb);
}

/** @internal */
export function runCancelCb(f: () => void): void {
  try {
    f();
  } catch (e) {
    hooks.async_exception(e);
  }
}

export class Lwt<T> implements PromiseLike<T> {
  /** @internal */ st: number = PENDING;
  /** @internal The value, the error, the proxied promise, or (pending output of a bind) the bind's function. */
  v: any = undefined;
  /** @internal Callbacks of a pending promise: the first one in `cb` (no array for the usual single listener), the rest in `cbs`. */
  cb: Cb | undefined = undefined;
  /** @internal */ cbs: Cb[] | undefined = undefined;
  /** @internal how_to_cancel (see CANCEL_THIS). */
  k: any = undefined;
  /** @internal on_cancel callbacks: one function or an array. */
  oc: (() => void) | Array<() => void> | undefined = undefined;

  /** Follow proxies to the representative, compressing the path. */
  /** @internal */ repr(): Lwt<T> {
    let r: Lwt<any> = this;
    while (r.st === PROXY) r = r.v;
    let p: Lwt<any> = this;
    while (p.st === PROXY) {
      const n = p.v;
      p.v = r;
      p = n;
    }
    return r;
  }

  /** @internal Add a callback; on a resolved promise it is queued. */
  listen(cb: Cb): void {
    const r = this.repr();
    if (r.st === PENDING) {
      if (r.cb === undefined) r.cb = cb;
      else (r.cbs ??= []).push(cb);
    } else enqueueCb(cb, r);
  }

  state(): 'pending' | 'fulfilled' | 'rejected' {
    const r = this.repr();
    return r.st === PENDING ? 'pending' : r.st === FULFILLED ? 'fulfilled' : 'rejected';
  }

  /** The value of a fulfilled promise (throws the error of a rejected one). */
  value(): T {
    const r = this.repr();
    if (r.st === FULFILLED) return r.v;
    if (r.st === REJECTED) throw r.v;
    throw new Error('Lwt: value of a pending promise');
  }

  map_<B>(f: (v: T) => B): Lwt<B> {
    return map(f, this);
  }

  bind_<B>(f: (v: T) => Lwt<B> | B): Lwt<B> {
    return bind(this, f);
  }

  then<A = T, B = never>(
    onF?: ((v: T) => A | PromiseLike<A>) | null,
    onR?: ((e: any) => B | PromiseLike<B>) | null,
  ): Lwt<A | B> {
    native.seen = true;
    const out = new Lwt<A | B>();
    out.k = this;
    this.listen((r) => {
      native.dirty = true;
      try {
        if (r.st === FULFILLED) settleWith(out, onF ? onF(r.v) : r.v);
        else if (onR) settleWith(out, onR(r.v));
        else reject(out, r.v);
      } catch (e) {
        reject(out, e);
      }
    });
    return out;
  }
}

/** Remove one listener `cb` from a pending promise (Lwt's explicitly removable callbacks). */
/** @internal */
export function unlisten(p: Lwt<any>, cb: Cb): void {
  const r = p.repr();
  if (r.st !== PENDING) return;
  const cbs = r.cbs;
  if (r.cb === cb) r.cb = cbs !== undefined && cbs.length > 0 ? cbs.shift() : undefined;
  else if (cbs !== undefined) {
    const i = cbs.indexOf(cb);
    if (i >= 0) cbs.splice(i, 1);
  }
}

export interface Resolver<T> {
  readonly promise: Lwt<T>;
}

/** @internal */
export function isCanceled(st: number, v: unknown): boolean {
  return st === REJECTED && v instanceof Canceled;
}

/**
 * Lwt's run_callbacks: on_cancel callbacks first (only if canceled), then the
 * others in the order they were added. At once while the nesting is below
 * MAX_DEPTH, else (or when `later`) from the run queue.
 */
/** @internal */
export function fire(r: Lwt<any>, cb: Cb | undefined, cbs: Cb[] | undefined, oc: Lwt<any>['oc'], later: boolean): void {
  if (oc !== undefined && !isCanceled(r.st, r.v)) oc = undefined;
  if (later || depth >= MAX_DEPTH) {
    if (oc !== undefined) {
      if (typeof oc === 'function') push3(runCancelCb, oc, undefined);
      else for (const f of oc) push3(runCancelCb, f, undefined);
    }
    if (cb !== undefined) enqueueCb(cb, r);
    if (cbs !== undefined) for (let i = 0; i < cbs.length; i++) enqueueCb(cbs[i]!, r);
    return;
  }
  depth++;
  try {
    if (oc !== undefined) {
      if (typeof oc === 'function') runCancelCb(oc);
      else for (const f of oc) runCancelCb(f);
    }
    if (cb !== undefined) {
      if (typeof cb === 'function') cb(r);
      else bindStep(r, cb);
    }
    if (cbs !== undefined)
      for (let i = 0; i < cbs.length; i++) {
        const c = cbs[i]!;
        if (typeof c === 'function') c(r);
        else bindStep(r, c);
      }
  } finally {
    depth--;
  }
}

/** Resolve the pending representative `r` and run (or queue) its callbacks. */
/** @internal */
export function resolve(r: Lwt<any>, st: number, v: any, later: boolean): void {
  r.st = st;
  r.v = v;
  r.k = undefined;
  const cb = r.cb;
  const cbs = r.cbs;
  const oc = r.oc;
  r.cb = undefined;
  r.cbs = undefined;
  r.oc = undefined;
  if (cb !== undefined || oc !== undefined) fire(r, cb, cbs, oc, later);
}

/** @internal */
export function settle<T>(p: Lwt<T>, st: number, v: any): void {
  const r = p.repr();
  if (r.st !== PENDING) throw new Error('Lwt: promise already resolved');
  resolve(r, st, v, false);
}

/** @internal */
export function reject(p: Lwt<any>, e: unknown): void {
  settle(p, REJECTED, e);
}

function isThenable(x: any): x is PromiseLike<any> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof x.then === 'function';
}

/** Resolve `out` with `x`: a value, a Lwt (it becomes a proxy of out) or a foreign thenable. */
/** @internal */
export function settleWith<T>(out: Lwt<T>, x: any): void {
  if (x instanceof Lwt) {
    const src = x.repr();
    const dst = out.repr();
    if (src === dst) return;
    if (dst.st !== PENDING && isCanceled(dst.st, dst.v)) return; // canceled meanwhile: the result is dropped
    if (src.st !== PENDING) {
      settle(dst, src.st, src.v);
      return;
    }
    // lwt.ml make_into_proxy: src's callbacks join dst's (dst's first), dst
    // takes src's how_to_cancel, and src becomes an alias of dst. dst (the
    // output of a bind, which its caller holds) stays the representative: a
    // thread that loops through binds forever keeps one promise, not a
    // growing chain of proxies.
    const cb = src.cb;
    const cbs = src.cbs;
    const oc = src.oc;
    if (cb !== undefined) {
      if (dst.cb === undefined) dst.cb = cb;
      else (dst.cbs ??= []).push(cb);
    }
    if (cbs !== undefined) {
      if (dst.cbs === undefined && dst.cb !== undefined) dst.cbs = cbs;
      else
        for (const c of cbs) {
          if (dst.cb === undefined) dst.cb = c;
          else (dst.cbs ??= []).push(c);
        }
    }
    if (oc !== undefined) for (const f of typeof oc === 'function' ? [oc] : oc) addCancelCb(dst, f);
    dst.k = src.k;
    // A bind output whose function has not run yet keeps it, in `cb`, for bindStep.
    src.cb = typeof src.v === 'function' ? src.v : undefined;
    src.cbs = undefined;
    src.oc = undefined;
    src.k = undefined;
    src.st = PROXY;
    src.v = dst;
    return;
  }
  if (isThenable(x)) {
    // The handlers run from the realm's microtask drain and may resolve Lwt
    // promises there, callbacks and all: `dirty` makes the main loop look again.
    x.then(
      (v) => {
        native.dirty = true;
        settleWith(out, v);
      },
      (e) => {
        native.dirty = true;
        reject(out, e);
      },
    );
    return;
  }
  settle(out, FULFILLED, x);
}

/** @internal */
export function addCancelCb(r: Lwt<any>, f: () => void): void {
  const oc = r.oc;
  if (oc === undefined) r.oc = f;
  else if (typeof oc === 'function') r.oc = [oc, f];
  else oc.push(f);
}

// --- the constant promises (lwt.mli "Creating") ---

export function return_<T>(v: T): Lwt<T> {
  const p = new Lwt<T>();
  p.st = FULFILLED;
  p.v = v;
  return p;
}

export function fail<T = never>(e: unknown): Lwt<T> {
  const p = new Lwt<T>();
  p.st = REJECTED;
  p.v = e;
  return p;
}

export const return_unit: Lwt<void> = return_(undefined);

// --- bind and map (lwt.mli "Callbacks"): a resolution runs bind's step inline ---

export function bind<A, B>(p: Lwt<A>, f: (v: A) => Lwt<B> | B): Lwt<B> {
  const out = new Lwt<B>();
  out.v = f; // pending: v holds the function until bindStep runs
  out.k = p;
  p.listen(out);
  return out;
}

/** The step of bind: `r` (what was bound) is resolved; settle `out` with f's result. */
function bindStep(r: Lwt<any>, out: Lwt<any>): void {
  let f: (v: any) => any;
  if (out.st === PROXY) {
    // out became an alias before its function ran (settleWith keeps the function in cb).
    f = out.cb as (v: any) => any;
    out.cb = undefined;
  } else {
    f = out.v;
    out.v = undefined;
  }
  if (r.st === FULFILLED) {
    try {
      settleWith(out, f(r.v));
    } catch (e) {
      reject(out, e);
    }
  } else reject(out, r.v);
}

export function map<A, B>(f: (v: A) => B, p: Lwt<A>): Lwt<B> {
  return bind(p, (v) => return_(f(v)));
}

/** Lift an async function's native promise (or any thenable) into Lwt (not cancelable). */
export function of_promise<T>(p: PromiseLike<T>): Lwt<T> {
  native.seen = true;
  const out = new Lwt<T>();
  settleWith(out, p);
  return out;
}

/** Is `p` still pending (state() without the string)? */
export function is_pending(p: Lwt<any>): boolean {
  return p.repr().st === PENDING;
}

/** Was `p` rejected with Canceled? */
export function is_canceled(p: Lwt<any>): boolean {
  const r = p.repr();
  return isCanceled(r.st, r.v);
}

/** @internal Forget the nesting depth and the native flags (reset(), tests only). */
export function reset_core(): void {
  depth = 0;
  native.seen = false;
  native.dirty = false;
}
