import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WaitQueue, waitEvent, call, type Co } from '../../../src/sim/index.ts';
import { Xenbus, XenbusError, makeWatch } from '../../../src/dom0/kernel/xenbus.ts';
import { Xenwatch, type XenwatchMode, type XenbusWatch } from '../../../src/dom0/kernel/xenwatch.ts';
import { MtwatchLifecycleWatch } from '../../../src/dom0/kernel/mtwatch.ts';
import { parseBackendPath } from '../../../src/dom0/kernel/xenbus_probe.ts';
import { ps } from '../../../src/dom0/kernel/ps.ts';
import { world, spawn, settle } from './helpers.ts';

function boot(mode: XenwatchMode = 'single', seed = 1) {
  const w = world(seed);
  const xw = new Xenwatch(w.kthreads, mode);
  const xb = new Xenbus(w.kthreads, w.xs.connectLocal(), xw);
  xb.start();
  xw.start();
  return { ...w, xw, xb };
}

const t = suite('xenbus');

t('requests block the caller until the reply; errors by name; transactions', () => {
  const { sim, xb, kthreads, tool } = boot();
  const seen: unknown[] = [];
  const job = spawn(kthreads, 'kworker', function* () {
    yield* xb.xs_write('/local/domain/0/x', 'hello');
    seen.push(yield* xb.xs_read('/local/domain/0/x'));
    try {
      yield* xb.xs_read('/nope');
    } catch (e) {
      seen.push((e as XenbusError).xsError, (e as XenbusError).errno);
    }
    yield* xb.transaction(function* (tx) {
      yield* xb.xs_write('/local/domain/0/a', '1', tx);
      yield* xb.xs_write('/local/domain/0/b', '2', tx);
    });
    seen.push(yield* xb.xs_directory('/local/domain/0'));
    yield* xb.xs_rm('/local/domain/0/a');
    seen.push(yield* xb.xs_read_opt('/local/domain/0/a'));
  });
  settle(sim, () => job.done);
  assert.is(job.error, undefined);
  assert.equal(seen, ['hello', 'ENOENT', 2, ['x', 'a', 'b'], undefined]);
  assert.is(tool.read('/local/domain/0/b'), '2');
});

t('watch events run on [xenwatch] in FIFO order, starting with the registration event', () => {
  const { sim, xb, kthreads, tool, xw } = boot();
  const log: string[] = [];
  const w = makeWatch('/local/domain/0/w', function* (_w, path) {
    log.push(`${path}@${kthreadsName()}`);
  });
  function kthreadsName() {
    return xw.default.kt.comm;
  }
  const job = spawn(kthreads, 'reg', () => xb.register_xenbus_watch(w));
  settle(sim, () => job.done);
  tool.write('/local/domain/0/w/a', '1');
  tool.write('/local/domain/0/w/b', '1');
  settle(sim);
  assert.equal(log, ['/local/domain/0/w@xenwatch', '/local/domain/0/w/a@xenwatch', '/local/domain/0/w/b@xenwatch']);
  assert.match(w.token, /^FFFF888004A000/);
});

/** A callback that blocks for domU `dom` until released. */
function blocker(dom: number) {
  const wq = new WaitQueue();
  let released = false;
  const runs: string[] = [];
  return {
    runs,
    release() {
      released = true;
      wq.wakeAll();
    },
    watch: makeWatch(`/local/domain/0/backend/vif/${dom}`, function* (_w, path) {
      runs.push(path);
      if (path.endsWith('/stall')) yield* call('frontend_changed', call('kthread_stop', waitEvent(wq, () => released, 'D')));
    }, { get_domid: (_w, p) => parseBackendPath(p)?.domid }),
  };
}

t('single xenwatch: a blocking callback stalls every later event; replies still flow', () => {
  const { sim, xb, kthreads, tool, xw } = boot('single');
  const b1 = blocker(1), b2 = blocker(2);
  const reg = spawn(kthreads, 'reg', function* () {
    yield* xb.register_xenbus_watch(b1.watch);
    yield* xb.register_xenbus_watch(b2.watch);
  });
  settle(sim, () => reg.done);
  tool.write('/local/domain/0/backend/vif/1/stall', '1');
  tool.write('/local/domain/0/backend/vif/2/later', '1');
  settle(sim);
  assert.equal(b2.runs, ['/local/domain/0/backend/vif/2'], 'dom2 event waits behind dom1');
  assert.is(xw.default.kt.state, 'D');
  assert.equal(xw.default.kt.thread.stack().slice(0, 3), ['kthread_stop', 'frontend_changed', 'xenwatch_thread']);
  // The xenbus thread is not stuck: a request from another thread completes.
  const r = spawn(kthreads, 'reader', () => xb.xs_read('/local/domain/0/backend/vif/2/later'));
  settle(sim, () => r.done);
  assert.is(r.result, '1');
  b1.release();
  settle(sim);
  assert.equal(b2.runs, ['/local/domain/0/backend/vif/2', '/local/domain/0/backend/vif/2/later']);
  assert.is(xw.default.kt.state, 'S');
});

t('unregister purges queued events and waits on xenwatch_mutex (the cascade)', () => {
  const { sim, xb, kthreads, tool } = boot('single');
  const b1 = blocker(1), b2 = blocker(2);
  const reg = spawn(kthreads, 'reg', function* () {
    yield* xb.register_xenbus_watch(b1.watch);
    yield* xb.register_xenbus_watch(b2.watch);
  });
  settle(sim, () => reg.done);
  tool.write('/local/domain/0/backend/vif/1/stall', '1');
  tool.write('/local/domain/0/backend/vif/2/x', '1');
  tool.write('/local/domain/0/backend/vif/2/y', '1');
  settle(sim);
  assert.is(b2.watch.nr_pending, 2);
  const un = spawn(kthreads, 'xl-remove', () => xb.unregister_xenbus_watch(b2.watch));
  settle(sim);
  assert.not.ok(un.done, 'unregister blocks while xenwatch is stuck');
  assert.is(un.kt.state, 'D');
  assert.equal(un.kt.thread.stack().slice(0, 3), ['mutex_lock', 'unregister_xenbus_watch', 'xl_remove']);
  b1.release();
  settle(sim, () => un.done);
  // Linux's mutex is not fair: xenwatch may run some queued events before the
  // unregistering thread gets the mutex; the rest are purged, none run after.
  const ranBefore = b2.runs.length;
  settle(sim);
  assert.ok(un.done);
  assert.is(b2.watch.nr_pending, 0);
  assert.is(b2.runs.length, ranBefore, 'purged events never run');
  tool.write('/local/domain/0/backend/vif/2/z', '1');
  settle(sim);
  assert.is(b2.runs.length, ranBefore);
});

t('XSA-349: with will_handle = nr_pending == 0 at most one event is queued', () => {
  const { sim, xb, kthreads, tool } = boot('single');
  const b1 = blocker(1);
  let runs = 0;
  const fe = makeWatch('/local/domain/3/device/vif/0/state', function* () { runs++; }, { will_handle: (w) => w.nr_pending === 0 });
  const reg = spawn(kthreads, 'reg', function* () {
    yield* xb.register_xenbus_watch(b1.watch);
    yield* xb.register_xenbus_watch(fe);
  });
  settle(sim, () => reg.done);
  tool.write('/local/domain/0/backend/vif/1/stall', '1');
  settle(sim);
  const dropped = xb.dropped;
  for (let i = 0; i < 50; i++) tool.write('/local/domain/3/device/vif/0/state', String(1 + (i % 6)));
  settle(sim);
  assert.is(fe.nr_pending, 1);
  assert.is(xb.dropped - dropped, 49);
  b1.release();
  settle(sim);
  assert.is(runs, 2, 'the registration event and one state event');
});

t('mtwatch: the stall stays on [xen-mtwatch-1]; other domains and per-domain order go on', () => {
  const { sim, xb, kthreads, tool, xw } = boot('mtwatch', 7);
  const b1 = blocker(1), b2 = blocker(2);
  const reg = spawn(kthreads, 'reg', function* () {
    xw.createDomain(1);
    xw.createDomain(2);
    yield* xb.register_xenbus_watch(b1.watch);
    yield* xb.register_xenbus_watch(b2.watch);
  });
  settle(sim, () => reg.done);
  settle(sim);
  tool.write('/local/domain/0/backend/vif/1/stall', '1');
  tool.write('/local/domain/0/backend/vif/1/after', '1');
  for (let i = 0; i < 5; i++) tool.write(`/local/domain/0/backend/vif/2/k${i}`, '1');
  settle(sim);
  assert.equal(b2.runs, ['/local/domain/0/backend/vif/2', ...[0, 1, 2, 3, 4].map((i) => `/local/domain/0/backend/vif/2/k${i}`)]);
  const t1 = xw.perDomain.get(1)!;
  assert.is(t1.kt.comm, 'xen-mtwatch-1');
  assert.is(t1.kt.state, 'D');
  assert.equal(t1.kt.thread.stack().slice(0, 3), ['kthread_stop', 'frontend_changed', 'xen_mtwatch_thread']);
  assert.is(xw.default.kt.state, 'S');
  assert.is(t1.events.length, 1);
  b1.release();
  settle(sim);
  assert.equal(b1.runs.slice(-2), ['/local/domain/0/backend/vif/1/stall', '/local/domain/0/backend/vif/1/after']);
});

t('mtwatch lifecycle from @introduceDomain/@releaseDomain; a stuck thread becomes a zombie', () => {
  const { sim, xb, kthreads, tool, xw, xs } = boot('mtwatch', 3);
  const life = new MtwatchLifecycleWatch(xb, xw, 'domains');
  const b5 = blocker(5);
  const reg = spawn(kthreads, 'init', function* () {
    yield* life.init();
    yield* xb.register_xenbus_watch(b5.watch);
  });
  settle(sim, () => reg.done);
  settle(sim);
  tool.mkdir('/local/domain/5');
  xs.run(() => xs.introduce(5, 0x1000, 3));
  tool.mkdir('/local/domain/6');
  xs.run(() => xs.introduce(6, 0x1000, 3));
  settle(sim);
  const names = () => ps(kthreads).map((r) => r.command);
  assert.ok(names().includes('[xen-mtwatch-5]') && names().includes('[xen-mtwatch-6]'));
  // domain 6 goes away cleanly
  tool.rm('/local/domain/6');
  xs.run(() => xs.releaseDomain(6));
  settle(sim);
  assert.not.ok(names().includes('[xen-mtwatch-6]'));
  // domain 5's thread is stuck when it is released
  tool.write('/local/domain/0/backend/vif/5/stall', '1');
  settle(sim);
  tool.rm('/local/domain/5');
  xs.run(() => xs.releaseDomain(5));
  settle(sim);
  const ex5 = xw.perDomain.get(5)!;
  assert.ok(ex5.zombie);
  assert.ok(names().includes('[xen-mtwatch-5]'), 'zombie still listed');
  assert.is(xw.default.kt.state, 'S', 'the default thread did not wait for it');
  b5.release();
  settle(sim);
  assert.not.ok(names().includes('[xen-mtwatch-5]'));
  assert.is(xw.perDomain.size, 0);
});

t('mtwatch race 1: events routed before the executor exists move to it in order', () => {
  const { sim, xb, kthreads, tool, xw } = boot('mtwatch', 11);
  const b9 = blocker(9);
  const reg = spawn(kthreads, 'reg', () => xb.register_xenbus_watch(b9.watch));
  settle(sim, () => reg.done);
  settle(sim);
  // Block the default thread so the events stay queued on it.
  const b0 = blocker(0);
  const reg0 = spawn(kthreads, 'reg0', () => xb.register_xenbus_watch(b0.watch));
  settle(sim, () => reg0.done);
  tool.write('/local/domain/0/backend/vif/0/stall', '1');
  tool.write('/local/domain/0/backend/vif/9/a', '1');
  tool.write('/local/domain/0/backend/vif/9/b', '1');
  settle(sim);
  assert.is(xw.default.events.length, 2);
  xw.createDomain(9);
  assert.is(xw.default.events.length, 0);
  settle(sim);
  assert.equal(b9.runs, ['/local/domain/0/backend/vif/9', '/local/domain/0/backend/vif/9/a', '/local/domain/0/backend/vif/9/b']);
  b0.release();
  settle(sim);
});

t.run();
