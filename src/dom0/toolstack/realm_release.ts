// A finished guest's realm back to the pool (realm_pool.ts) or dropped, for
// loader.ts's release().
//
// A realm whose runtime saw native promises can be pooled once its microtask
// queue is empty (realm_pool.ts then scrubs and verifies the object graph),
// because nothing else of the finished run can run in it:
//   - what stays suspended (an `await` on a guest Lwt the run never resolved,
//     the kernel's `await stop`) waits on guest objects no longer reachable
//     from the scrubbed globals: only the old guest could resolve them, and
//     every entry into it is a no-op after release(). No host promise ever
//     reaches a guest (the doors are synchronous), so the host cannot resolve
//     one later either; the guest's timers are its own heap on the virtual
//     clock, run from its main loop, never host timers;
//   - the jobs still queued are run by the drain here, before anything of
//     the next run exists (as dropRealm's scrub ran them before);
//   - FinalizationRegistry callbacks run whenever the host's GC decides, and
//     could run old guest code in a reused realm; a guest that uses them is
//     not deterministic in a fresh realm either (no kernel here does).
// That drain is bounded as every slice is: by the step budget, refilled
// first, so a guest whose jobs queue more jobs forever runs out of steps
// (every check then throws, its jobs end) and its realm is dropped; where it
// stops is a step count, not a wall-clock time. A bundle without the budget
// is drained under vm's timeout instead (it covers the microtasks of an
// 'afterEvaluate' realm, but costs a watchdog thread, ~0.1 ms CPU and more
// wall time on a loaded host) and forgotten if its queue did not empty. What
// the budget does not bound, here as in every drain during the run: a cycle
// of builtins alone (a bound `Promise.prototype.then` fed with itself), which
// runs no guest code.

import vm from 'node:vm';
import { dropRealm, realmStats, releaseRealm, type Realm } from './realm_pool.ts';

export interface FinishedGuest {
  readonly realm: Realm;
  /** The loader saw it crash (a throw or a terminated script may have stopped it anywhere): its realm is dropped. */
  readonly crashed: boolean;
  /** The bundle's step-budget cell, if it has one, and the slice budget to refill it with. */
  readonly cell: Int32Array | undefined;
  readonly budget: number;
  /** Run the realm's pending microtasks (the loader's drain). */
  readonly drain: () => void;
}

/** The run is over and nothing of it calls into the realm again: drain (bounded), then pool or drop. */
export function releaseGuestRealm(g: FinishedGuest): void {
  const ctx = g.realm.ctx;
  // (When the runtime's flags say no native promise was seen, releaseRealm's drain finds nothing to run.)
  const flags = ctx.__xenode_native as { seen?: boolean } | undefined;
  if (flags?.seen !== false) {
    if (g.cell === undefined) {
      if (!drainWithin(ctx, RELEASE_DRAIN_MS)) return forgetRealm(ctx);
    } else {
      g.cell[0] = g.budget;
      g.drain();
      // The jobs ran out of steps: a guest that keeps queueing (its queue is empty now, all the same).
      if (g.cell[0]! < 0) return dropRealm(g.realm);
    }
  }
  if (g.crashed) dropRealm(g.realm);
  else releaseRealm(g.realm);
}

/** Wall-clock bound on the release drain of a bundle without the step budget, ms. */
export const RELEASE_DRAIN_MS = 250;

/** Drain `ctx`'s microtask queue within `ms`; false if it did not empty. */
function drainWithin(ctx: vm.Context, ms: number): boolean {
  try {
    drainScript.runInContext(ctx, { timeout: ms });
    return true;
  } catch {
    return false;
  }
}

/**
 * A realm whose queue did not empty: never entered again (each run of a
 * script in it would resume the jobs). Only what was set on the context
 * object from outside, or as a plain global from inside, is deleted (the
 * runtime's entries, which hold the machine), from the host side.
 */
function forgetRealm(ctx: vm.Context): void {
  realmStats.dropped++;
  for (const key of Reflect.ownKeys(ctx)) Reflect.deleteProperty(ctx, key);
}

/** Runs nothing: returning from it drains the context's microtask queue (microtaskMode 'afterEvaluate'). */
const drainScript = new vm.Script('void 0');
