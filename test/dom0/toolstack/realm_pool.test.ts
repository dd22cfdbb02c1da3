// Guest realms reused across runs (realm_pool.ts): a realm goes back to the
// pool only when it is the same as a fresh one; nothing a run set is seen by
// the next run in the same realm.
import vm from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { acquireRealm, releaseRealm, setRealmPooling } from '../../../src/dom0/toolstack/realm_pool.ts';

const R = suite('realm pool');
const run = (r: { ctx: vm.Context }, code: string): unknown => vm.runInContext(code, r.ctx);
const freshKeys = (): string => run({ ctx: vm.createContext({}) }, 'Reflect.ownKeys(globalThis).map(String).join()') as string;

R.before.each(() => {
  setRealmPooling(false); // empty the pool: each test starts from fresh realms
  setRealmPooling(true);
});

R('a value set on globalThis in run 1 is not seen in run 2, in the same realm', () => {
  const r1 = acquireRealm('run 1');
  const random = run(r1, 'Math.random');
  run(r1, `globalThis.secret = 42; globalThis.console = { log() {} }; Math.random = () => 0; globalThis.Date = function VDate() {};
    Date.prototype.constructor = 5; Object.defineProperty(globalThis, 'hidden', { value: 1, enumerable: false, configurable: true });
    /(a)(b)/.exec('ab')`);
  assert.ok(releaseRealm(r1), 'scrubbed back to a fresh realm');
  const r2 = acquireRealm('run 2');
  assert.is(r2.ctx, r1.ctx, 'the same realm, reused');
  assert.is(run(r2, 'typeof secret + typeof hidden'), 'undefinedundefined');
  assert.is(run(r2, 'Math.random'), random);
  assert.is(run(r2, 'Date.name + " " + (Date.prototype.constructor === Date) + " " + typeof console.log'), 'Date true function');
  assert.is(run(r2, 'RegExp.$1 + RegExp.$2 + RegExp.lastMatch + RegExp.input'), '', "RegExp's legacy statics are reset");
  assert.is(run(r2, 'Reflect.ownKeys(globalThis).map(String).join()'), freshKeys(), 'the global keys, in a fresh realm\'s order');
});

R('a builtin the run changed for good: the realm is dropped, the next run gets a fresh one', () => {
  for (const code of [
    'Array.prototype.leak = 1',
    'Object.freeze(Map.prototype)',
    'Math.max.extra = 2',
    'Object.setPrototypeOf(Set.prototype, null)',
    'Object.defineProperty(JSON.stringify, "name", { value: "x" })',
    'var v = 1', // a non-configurable global: cannot be deleted
    // objects whose frozen properties (Math.PI, a constructor's arguments/caller) are not read again: the others still are
    'delete Math.max',
    'WebAssembly.Instance.extra = 3',
    'Object.defineProperty(WebAssembly.Module, "name", { value: "M" })',
  ]) {
    const r = acquireRealm('changed');
    run(r, code);
    assert.not.ok(releaseRealm(r), code);
    const next = acquireRealm('next');
    assert.is.not(next.ctx, r.ctx, code);
    assert.is(run(next, 'typeof [].leak + Object.isFrozen(Map.prototype) + typeof v'), 'undefinedfalseundefined', code);
  }
});

R('a realm that passed once is checked again each time it comes back', () => {
  const r = acquireRealm('twice');
  assert.ok(releaseRealm(r));
  assert.is(acquireRealm('again').ctx, r.ctx);
  run(r, 'String.prototype.trim = function () { return "leak"; }');
  assert.not.ok(releaseRealm(r));
  assert.is(run(acquireRealm('third'), '" x ".trim()'), 'x');
});

R('pooling off: every realm is fresh', () => {
  setRealmPooling(false);
  const r = acquireRealm('off');
  assert.not.ok(releaseRealm(r));
  assert.is.not(acquireRealm('off 2').ctx, r.ctx);
  setRealmPooling(true);
});

R.run();
