// loader.ts release() (realm_release.ts): a guest whose runtime saw native promises goes back to
// the realm pool once its microtask queue is drained (the next run in that
// realm sees nothing of it); one whose jobs keep queueing jobs is stopped by
// the step budget (a bundle without it: by the drain's timeout) and its realm
// is not pooled; the host goes on.
import vm from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GuestDoors } from '../../../src/abi/doors.ts';
import { loadKernel } from '../../../src/dom0/toolstack/loader.ts';
import { RELEASE_DRAIN_MS } from '../../../src/dom0/toolstack/realm_release.ts';
import { insertBudget } from '../../../src/machine/budget.ts';
import { acquireRealm, realmStats, releaseRealm, setRealmPooling } from '../../../src/dom0/toolstack/realm_pool.ts';

const R = suite('loader: releasing a realm that saw native promises');

/**
 * A bundle shaped as the runtime's (kernel() publishes `__xenode_native` and
 * `__xenode_kernel`): its interrupt handler runs `onInterrupt`, whose jobs
 * nothing drains before release (the loader drains after a resume only).
 */
const bundle = (onInterrupt: string, budget = true) => {
  const code = `"use strict";
globalThis.__xenode_native = { seen: true, dirty: false };
globalThis.__xenode_kernel = { start: () => ({ resume() {}, interrupt() { ${onInterrupt} } }) };
`;
  return budget ? insertBudget(code) : code;
};

const doors = { vcpuId: 0 } as GuestDoors;

function boot(code: string) {
  const crashes: string[] = [];
  const k = loadKernel(code, { domid: 9, now: () => 0, budget: 100_000, onCrash: (_d, m) => crashes.push(m) });
  const entry = k.start(doors, 0);
  return { k, entry, crashes };
}

R.before.each(() => {
  setRealmPooling(false); // each test starts from fresh realms
  setRealmPooling(true);
});

R('an await left pending and a job left queued: drained at release, the realm is pooled and the next run sees none of it', () => {
  const { k, entry, crashes } = boot(
    bundle(
      `(async () => { await new Promise(() => {}); globalThis.never = 1; })(); Promise.resolve().then(() => { globalThis.late = 1; Array.prototype.late = 1; delete Array.prototype.late; });`,
    ),
  );
  assert.ok(k.budgeted);
  entry.interrupt(0xf3);
  assert.equal(crashes, []);
  const released0 = realmStats.released;
  const ctx = k.context;
  k.release();
  assert.is(realmStats.released, released0 + 1, 'pooled');
  const next = acquireRealm('next');
  assert.is(next.ctx, ctx, 'the same realm, reused');
  assert.is(vm.runInContext('typeof late + typeof never + typeof __xenode_native + typeof [].late', next.ctx), 'undefinedundefinedundefinedundefined');
  releaseRealm(next);
});

R('jobs that queue jobs forever: the step budget stops them at release, the realm is dropped, not pooled', () => {
  const { k, entry } = boot(bundle(`const again = () => { Promise.resolve().then(again); }; again();`));
  assert.ok(k.budgeted);
  entry.interrupt(0xf3);
  const dropped0 = realmStats.dropped;
  const released0 = realmStats.released;
  k.release();
  assert.is(realmStats.dropped, dropped0 + 1, 'dropped');
  assert.is(realmStats.released, released0, 'not pooled');
  assert.is.not(acquireRealm('next').ctx, k.context, 'the next run gets another realm');
  k.release(); // twice: nothing
});

R('a bundle without the budget whose queue never empties (a cycle of builtins): forgotten within the timeout, its context never entered again', () => {
  // h(v) = q.then(v), and q is fulfilled with h: each job queues the next, and none runs guest code.
  const { k, entry } = boot(
    bundle(
      `let fulfil; const q = new Promise((r) => { fulfil = r; }); const h = Function.prototype.call.bind(Promise.prototype.then, q); fulfil(h); q.then(h);`,
      false,
    ),
  );
  assert.not.ok(k.budgeted);
  entry.interrupt(0xf3);
  const dropped0 = realmStats.dropped;
  const t0 = performance.now();
  k.release();
  const ms = performance.now() - t0;
  assert.ok(ms < RELEASE_DRAIN_MS * 20, `release returned after ${ms.toFixed(0)} ms`);
  assert.is(realmStats.dropped, dropped0 + 1, 'dropped');
  assert.is(Reflect.ownKeys(k.context).length, 0, "the runtime's entries are gone from the context");
  assert.is.not(acquireRealm('next').ctx, k.context, 'the next run gets another realm');
});

R.run();
