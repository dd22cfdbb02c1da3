// The exception-handling combinators over bind (lwt.mli "Callbacks",
// "Convenience"): catch_, finalize, on_any, and wrap/apply, which turn a
// synchronous throw into a rejected promise.

import { FULFILLED, Lwt, bind, fail, reject, return_, return_unit, settle, settleWith } from './lwt_core.ts';

/** Lwt.wrap: `f()`'s value as a resolved promise, or its exception as a rejected one. */
export function wrap<T>(f: () => T): Lwt<T> {
  try {
    return return_(f());
  } catch (e) {
    return fail(e);
  }
}

/** `f()`, with a synchronous throw turned into a rejected promise (Lwt.apply). */
export function apply<T>(f: () => Lwt<T>): Lwt<T> {
  try {
    return f();
  } catch (e) {
    return fail(e);
  }
}

/** Lwt.catch: `h` sees every rejection of `f()`, Canceled included. */
export function catch_<T>(f: () => Lwt<T>, h: (e: any) => Lwt<T> | T): Lwt<T> {
  const p = apply(f);
  const out = new Lwt<T>();
  out.k = p;
  p.listen((r) => {
    if (r.st === FULFILLED) settle(out, FULFILLED, r.v);
    else {
      try {
        settleWith(out, h(r.v));
      } catch (e) {
        reject(out, e);
      }
    }
  });
  return out;
}

/** Lwt.finalize: run `g` once `f()` resolves either way, then resolve as `f()` did (or with `g`'s error). */
export function finalize<T>(f: () => Lwt<T>, g: () => Lwt<void> | void): Lwt<T> {
  const p = apply(f);
  const out = new Lwt<T>();
  out.k = p;
  p.listen((r) => {
    const res = r.st === FULFILLED ? return_(r.v as T) : fail<T>(r.v);
    settleWith(out, bind(wrap(g), (x) => bind(x instanceof Lwt ? x : return_unit, () => res)));
  });
  return out;
}

/** Lwt.on_any: call `ok` or `err` when `p` resolves (queued if it already is). */
export function on_any<T>(p: Lwt<T>, ok: (v: T) => void, err: (e: unknown) => void): void {
  p.listen((r) => (r.st === FULFILLED ? ok(r.v) : err(r.v)));
}
