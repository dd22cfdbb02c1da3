// Lwt: cooperative threads for the unikernel, after ocsigen/lwt.
//
// A small promise type of our own (RxJS AsyncSubject chains overflow the
// stack at ~1000 nested binds). States: pending (with a callback
// list), fulfilled, rejected, or proxy (an alias of another promise, Lwt's
// make_into_proxy). Callbacks never run synchronously from bind/resolve: they
// go on one FIFO run queue that the main loop drains (`Lwt.run_queue`), so a
// million nested binds use constant stack, and the order is deterministic.
//
// `.then` exists so that `await p` works in kernels; a native continuation is
// then on the realm's microtask queue, which the main loop drains through the
// loader (see main.ts: `nativeSeen`).

/** A listener: a callback, or the output promise of a bind (its function in `v` while pending: no closure per bind). */
type Cb = ((p: Lwt<any>) => void) | Lwt<any>;

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;
const PROXY = 3;

/**
 * FIFO run queue of triples (function, a, b), called as function(a, b): a
 * callback and its promise, a bare job, or a wakeup_later (resolver, value).
 * Slots between qhead and qtail are live; the array never shrinks (no
 * reallocation per main-loop pass) and read slots are cleared.
 */
const queue: any[] = [];
let qhead = 0;
let qtail = 0;
/** Promises paused by `pause()`, woken by `wakeup_paused()`. */
let paused: Array<Resolver<void>> = [];
/** Set when a native continuation (await / .then from native code) may be queued. */
export const native = { seen: false, dirty: false };

function push3(f: (a: any, b: any) => void, a: any, b: any): void {
  const t = qtail;
  queue[t] = f;
  queue[t + 1] = a;
  queue[t + 2] = b;
  qtail = t + 3;
}

function enqueue(job: () => void): void {
  push3(job, undefined, undefined);
}

function enqueueCb(cb: Cb, p: Lwt<any>): void {
  if (typeof cb === 'function') push3(cb, p, undefined);
  else push3(bindStep, p, cb);
}

/** The queued half of wakeup_later. */
function wakeupJob(r: Resolver<any>, v: unknown): void {
  settle(r.promise, FULFILLED, v);
}

export class Lwt<T> implements PromiseLike<T> {
  /** @internal */ st: number = PENDING;
  /** @internal The value, the error, the proxied promise, or (pending output of a bind) the bind's function. */
  v: any = undefined;
  /** @internal Callbacks of a pending promise: the first one in `cb` (no array for the usual single listener), the rest in `cbs`. */
  cb: Cb | undefined = undefined;
  /** @internal */ cbs: Cb[] | undefined = undefined;

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

  /** @internal */ listen(cb: Cb): void {
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

export interface Resolver<T> {
  readonly promise: Lwt<T>;
}

function settle<T>(p: Lwt<T>, st: number, v: any): void {
  const r = p.repr();
  if (r.st !== PENDING) throw new Error('Lwt: promise already resolved');
  r.st = st;
  r.v = v;
  const cb = r.cb;
  const cbs = r.cbs;
  r.cb = undefined;
  r.cbs = undefined;
  if (cb !== undefined) enqueueCb(cb, r);
  if (cbs) for (let i = 0; i < cbs.length; i++) enqueueCb(cbs[i]!, r);
}

function reject(p: Lwt<any>, e: unknown): void {
  settle(p, REJECTED, e);
}

function isThenable(x: any): x is PromiseLike<any> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof x.then === 'function';
}

/** Resolve `out` with `x`: a value, a Lwt (out becomes its proxy) or a foreign thenable. */
function settleWith<T>(out: Lwt<T>, x: any): void {
  if (x instanceof Lwt) {
    const src = x.repr();
    const dst = out.repr();
    if (src === dst) return;
    if (src.st !== PENDING) {
      settle(dst, src.st, src.v);
      return;
    }
    // make_into_proxy: dst becomes an alias of src; its callbacks move over.
    // (Order kept: src's callbacks, then dst's, each first `cb` then `cbs`.)
    const cb = dst.cb;
    const cbs = dst.cbs;
    dst.cb = undefined;
    dst.cbs = undefined;
    dst.st = PROXY;
    dst.v = src;
    if (cb !== undefined) {
      if (src.cb === undefined) src.cb = cb;
      else (src.cbs ??= []).push(cb);
    }
    if (cbs) {
      if (src.cb === undefined) src.cb = cbs.shift();
      if (src.cbs) for (const c of cbs) src.cbs.push(c);
      else if (cbs.length > 0) src.cbs = cbs;
    }
    return;
  }
  if (isThenable(x)) {
    x.then(
      (v) => settleWith(out, v),
      (e) => reject(out, e),
    );
    return;
  }
  settle(out, FULFILLED, x);
}

// --- the Lwt API (names as in lwt.mli) ---

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

/** @internal A pending promise (Activations keeps the promise itself as its resolver). */
export function task<T>(): Lwt<T> {
  return new Lwt<T>();
}

function wakeupPromiseJob(p: Lwt<any>, v: unknown): void {
  settle(p, FULFILLED, v);
}

/** @internal wakeup_later on the promise made by task(). */
export function wakeup_later_task<T>(p: Lwt<T>, v: T): void {
  push3(wakeupPromiseJob, p, v);
}

/** A pending promise and its resolver. */
export function wait<T>(): [Lwt<T>, Resolver<T>] {
  const p = new Lwt<T>();
  return [p, { promise: p }];
}

export function wakeup<T>(r: Resolver<T>, v: T): void {
  settle(r.promise, FULFILLED, v);
}

export function wakeup_exn(r: Resolver<any>, e: unknown): void {
  settle(r.promise, REJECTED, e);
}

/** Resolve from the run queue rather than now (Lwt.wakeup_later). */
export function wakeup_later<T>(r: Resolver<T>, v: T): void {
  push3(wakeupJob, r, v);
}

export function bind<A, B>(p: Lwt<A>, f: (v: A) => Lwt<B> | B): Lwt<B> {
  const out = new Lwt<B>();
  out.v = f; // pending: v holds the function until bindStep runs
  p.listen(out);
  return out;
}

/** The queued step of bind: `r` (what was bound) is resolved; settle `out` with f's result. */
function bindStep(r: Lwt<any>, out: Lwt<any>): void {
  const f = out.v as (v: any) => any;
  out.v = undefined;
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

export function catch_<T>(f: () => Lwt<T>, h: (e: any) => Lwt<T> | T): Lwt<T> {
  let p: Lwt<T>;
  try {
    p = f();
  } catch (e) {
    p = fail(e);
  }
  const out = new Lwt<T>();
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

/** A promise resolved at the next main-loop iteration. */
export function pause(): Lwt<void> {
  const [p, r] = wait<void>();
  paused.push(r);
  return p;
}

export function paused_count(): number {
  return paused.length;
}

export function wakeup_paused(): void {
  if (paused.length === 0) return;
  const now = paused;
  paused = [];
  for (const r of now) wakeup(r, undefined);
}

/** All resolved (rejects with the first error once all are resolved). */
export function join(ps: readonly Lwt<void>[]): Lwt<void> {
  return all(ps).map_(() => undefined);
}

export function all<T>(ps: readonly Lwt<T>[]): Lwt<T[]> {
  const out = new Lwt<T[]>();
  const vals = new Array<T>(ps.length);
  let left = ps.length;
  let err: { e: unknown } | undefined;
  if (left === 0) return return_(vals);
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

/** The first promise to resolve (Lwt.choose; pick = choose without cancellation here). */
export function choose<T>(ps: readonly Lwt<T>[]): Lwt<T> {
  for (const p of ps) {
    const r = p.repr();
    if (r.st !== PENDING) return r;
  }
  const out = new Lwt<T>();
  for (const p of ps)
    p.listen((r) => {
      if (out.repr().st === PENDING) settle(out, r.st, r.v);
    });
  return out;
}

export const pick = choose;

/** Lift an async function's native promise (or any thenable) into Lwt. */
export function of_promise<T>(p: PromiseLike<T>): Lwt<T> {
  native.seen = true;
  const out = new Lwt<T>();
  settleWith(out, p);
  return out;
}

/** Run queued callbacks until the queue is empty. Returns the number run. */
export function run_queue(): number {
  let n = 0;
  while (qhead < qtail) {
    const h = qhead;
    const job = queue[h];
    const a = queue[h + 1];
    const b = queue[h + 2];
    queue[h] = undefined;
    queue[h + 1] = undefined;
    queue[h + 2] = undefined;
    qhead = h + 3;
    n++;
    job(a, b);
    if (qhead > 8192 && qhead * 2 > qtail) {
      // Long runs (a million nested binds): move the live part down.
      queue.copyWithin(0, qhead, qtail);
      queue.fill(undefined, qtail - qhead, qtail);
      qtail -= qhead;
      qhead = 0;
    }
  }
  qhead = 0;
  qtail = 0;
  return n;
}

/** Is `p` still pending (state() without the string)? */
export function is_pending(p: Lwt<any>): boolean {
  return p.repr().st === PENDING;
}

export function queue_length(): number {
  return (qtail - qhead) / 3;
}

/** Forget all state (tests only: one realm per kernel makes this unnecessary in guests). */
export function reset(): void {
  queue.length = 0;
  qhead = 0;
  qtail = 0;
  paused = [];
  native.seen = false;
  native.dirty = false;
}

// --- Lwt_condition and Lwt_mvar ---

/** Lwt_condition: lossy; wait() blocks until the next signal/broadcast. */
export class Condition<T = void> {
  private waiters: Resolver<T>[] = [];
  wait(): Lwt<T> {
    const [p, r] = wait<T>();
    this.waiters.push(r);
    return p;
  }
  signal(v: T): void {
    const r = this.waiters.shift();
    if (r) wakeup_later(r, v);
  }
  broadcast(v: T): void {
    const ws = this.waiters;
    if (ws.length === 0) return;
    this.waiters = [];
    for (const r of ws) wakeup_later(r, v);
  }
  get waiting(): number {
    return this.waiters.length;
  }
}

/** Lwt_mvar: a one-slot mailbox with FIFO readers and writers. */
export class MVar<T> {
  private full = false;
  private v: T | undefined;
  private readers: Resolver<T>[] = [];
  private writers: Array<{ v: T; r: Resolver<void> }> = [];
  constructor(...init: [] | [T]) {
    if (init.length === 1) {
      this.full = true;
      this.v = init[0];
    }
  }
  put(v: T): Lwt<void> {
    if (!this.full) {
      const rd = this.readers.shift();
      if (rd) wakeup_later(rd, v);
      else {
        this.full = true;
        this.v = v;
      }
      return return_unit;
    }
    const [p, r] = wait<void>();
    this.writers.push({ v, r });
    return p;
  }
  take(): Lwt<T> {
    if (this.full) {
      const v = this.v as T;
      const w = this.writers.shift();
      if (w) {
        this.v = w.v;
        wakeup_later(w.r, undefined);
      } else {
        this.full = false;
        this.v = undefined;
      }
      return return_(v);
    }
    const [p, r] = wait<T>();
    this.readers.push(r);
    return p;
  }
  is_empty(): boolean {
    return !this.full;
  }
}
