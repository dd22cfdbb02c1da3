// Lwt's cancellation and concurrency (ocsigen/lwt lwt.mli "Cancellation",
// "Concurrency"; lwt.ml Resolving.cancel, protected, join, choose, pick) on
// the promises of lwt.ts, which re-exports them. How a promise is canceled is
// its `k` field (lwt.ts: CANCEL_THIS).

import {
  CANCEL_THIS, CANCELED, FULFILLED, Lwt, PENDING, REJECTED, addCancelCb, fire, isCanceled, reject, resolve, return_, runCancelCb, settle,
  unlisten, type Cb,
} from './lwt_core.ts';

/**
 * Lwt.cancel: search backwards from `p` for pending cancelable promises (task,
 * protected_) through bind/map/catch_ outputs and the lists of join, all,
 * choose, pick, and reject each with CANCELED; then their callbacks run, which
 * propagate the rejection forwards as usual. A `wait` promise, a resolved one
 * and a native Promise stop the search. As in lwt.ml, every promise found is
 * marked first (one reachable twice is canceled once), then the callbacks run,
 * the last found first.
 */
export function cancel(p: Lwt<any>): void {
  const found: Array<[Lwt<any>, Cb | undefined, Cb[] | undefined, Lwt<any>['oc']]> = [];
  const stack: Lwt<any>[] = [p];
  while (stack.length > 0) {
    const r = stack.pop()!.repr();
    if (r.st !== PENDING) continue;
    const k = r.k;
    if (k === undefined) continue;
    if (k === CANCEL_THIS) {
      found.push([r, r.cb, r.cbs, r.oc]);
      r.st = REJECTED;
      r.v = CANCELED;
      r.k = r.cb = r.cbs = r.oc = undefined;
    } else if (k instanceof Lwt) stack.push(k);
    else for (let i = k.length - 1; i >= 0; i--) stack.push(k[i]); // depth first, in list order
  }
  for (let i = found.length - 1; i >= 0; i--) {
    const [r, cb, cbs, oc] = found[i]!;
    if (cb !== undefined || oc !== undefined) fire(r, cb, cbs, oc, false);
  }
}

/**
 * Lwt.on_cancel: run `f` when `p` is rejected with Canceled (by `cancel` or
 * by any rejection with a Canceled), before its other callbacks. At once if
 * `p` already is canceled; never if it resolves otherwise. An exception from
 * `f` goes to hooks.async_exception.
 */
export function on_cancel(p: Lwt<any>, f: () => void): void {
  const r = p.repr();
  if (r.st === PENDING) addCancelCb(r, f);
  else if (isCanceled(r.st, r.v)) runCancelCb(f);
}

/**
 * Lwt.protected: a cancelable promise that follows `p`; cancelling it rejects
 * it with Canceled and stops there: `p` is not canceled.
 */
export function protected_<T>(p: Lwt<T>): Lwt<T> {
  if (p.repr().st !== PENDING) return p;
  const out = new Lwt<T>();
  out.k = CANCEL_THIS;
  const cb = (r: Lwt<any>) => {
    const o = out.repr(); // out may have become an alias (settleWith)
    if (o.st === PENDING) resolve(o, r.st, r.v, false);
  };
  p.listen(cb);
  addCancelCb(out, () => unlisten(p, cb));
  return out;
}

/** Lwt.no_cancel: follows `p`; cancelling it does nothing (neither it nor `p` is canceled through it). */
export function no_cancel<T>(p: Lwt<T>): Lwt<T> {
  if (p.repr().st !== PENDING) return p;
  const out = new Lwt<T>();
  p.listen((r) => {
    const o = out.repr();
    if (o.st === PENDING) resolve(o, r.st, r.v, false);
  });
  return out;
}

// --- concurrency (lwt.mli "Concurrency") ---

/** All resolved (rejects with the first error once all are resolved); cancelling it cancels each of `ps`. */
export function join(ps: readonly Lwt<void>[]): Lwt<void> {
  return all(ps).map_(() => undefined);
}

export function all<T>(ps: readonly Lwt<T>[]): Lwt<T[]> {
  const vals = new Array<T>(ps.length);
  let left = ps.length;
  if (left === 0) return return_(vals);
  const out = new Lwt<T[]>();
  out.k = ps;
  let err: { e: unknown } | undefined;
  ps.forEach((p, i) =>
    p.listen((r) => {
      if (r.st === FULFILLED) vals[i] = r.v;
      else err ??= { e: r.v };
      if (--left === 0) {
        if (err) reject(out, err.e);
        else settle(out, FULFILLED, vals);
      }
    }),
  );
  return out;
}

/** Among already resolved promises: the first rejected one, else the first fulfilled; undefined if all pend. */
function firstResolved<T>(ps: readonly Lwt<T>[]): Lwt<T> | undefined {
  let ok: Lwt<T> | undefined;
  for (const p of ps) {
    const r = p.repr();
    if (r.st === REJECTED) return r;
    if (r.st === FULFILLED) ok ??= r;
  }
  return ok;
}

function race<T>(ps: readonly Lwt<T>[], name: string, cancelLosers: boolean): Lwt<T> {
  if (ps.length === 0) throw new Error(`Lwt.${name} [] would return a promise that is pending forever`);
  const done = firstResolved(ps);
  if (done !== undefined) {
    if (cancelLosers) for (const p of ps) cancel(p);
    return done;
  }
  const out = new Lwt<T>();
  out.k = ps;
  const cb = (r: Lwt<any>) => {
    const o = out.repr();
    if (o.st !== PENDING) return;
    // The losers forget this callback (Lwt: explicitly removable callbacks),
    // so a long-lived loser (a stop signal raced on every wakeup) keeps none.
    for (const p of ps) unlisten(p, cb);
    if (cancelLosers) for (const p of ps) cancel(p);
    if (o.st === PENDING) resolve(o, r.st, r.v, false);
  };
  for (const p of ps) p.listen(cb);
  return out;
}

/** The first of `ps` to resolve; the others are left alone (Lwt.choose). Cancelling the result cancels each of `ps`. */
export function choose<T>(ps: readonly Lwt<T>[]): Lwt<T> {
  return race(ps, 'choose', false);
}

/** The first of `ps` to resolve; then every other one is canceled (Lwt.pick). */
export function pick<T>(ps: readonly Lwt<T>[]): Lwt<T> {
  return race(ps, 'pick', true);
}

