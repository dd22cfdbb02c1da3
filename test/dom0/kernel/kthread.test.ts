import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Sim, WaitQueue, waitEvent, call } from '../../../src/sim/index.ts';
import { Kthreads, kthread_should_stop } from '../../../src/dom0/kernel/kthread.ts';
import { ps, formatPs, stack } from '../../../src/dom0/kernel/ps.ts';

const t = suite('kthread');

t('kthread_stop waits in D until the thread exits; comm is truncated to 15 chars', () => {
  const sim = new Sim({ seed: 1 });
  const k = new Kthreads(sim);
  const wq = new WaitQueue();
  let inflight = 1;
  const dealloc = k.run('vif1.0-q0-dealloc', 'xenvif_dealloc_kthread', function* () {
    for (;;) {
      yield* waitEvent(wq, () => kthread_should_stop(), 'S');
      if (kthread_should_stop() && inflight === 0) return 'bye';
      // still a packet in flight: go back to sleep until woken again
      yield* waitEvent(wq, () => inflight === 0, 'S');
    }
  });
  let stopped: unknown;
  const watcher = k.run('xenwatch', 'xenwatch_thread', function* () {
    stopped = yield* call('xenvif_disconnect_data', k.stop(dealloc));
  });
  sim.run();
  assert.is(dealloc.comm, 'vif1.0-q0-deall');
  assert.is(watcher.state, 'D');
  assert.is(stopped, undefined);
  const rows = ps(k);
  assert.ok(rows.some((r) => r.command === '[vif1.0-q0-deall]' && r.stat === 'S' && r.name === 'vif1.0-q0-dealloc'));
  assert.ok(rows.some((r) => r.command === '[xenwatch]' && r.stat === 'D'));
  assert.equal(watcher.thread.stack(), ['kthread_stop', 'xenvif_disconnect_data', 'xenwatch_thread', 'kthread', 'ret_from_fork']);
  const text = stack(k, watcher.pid)!;
  assert.match(text, /^\[<0>\] kthread_stop\+0x3e\/0x110\n\[<0>\] xenvif_disconnect_data\+0x74\/0xa0 \[xen_netback\]\n/);
  assert.match(text, /\[<0>\] ret_from_fork\+0x35\/0x40\n$/);
  assert.match(formatPs(rows), /^  PID STAT COMMAND\n    1 S    \/sbin\/init\n/);
  // release: inflight 0 → dealloc exits → kthread_stop returns
  inflight = 0;
  wq.wakeAll();
  sim.run();
  assert.is(dealloc.state, 'X');
  assert.is(stopped, 'bye');
  assert.is(k.get(dealloc.pid), undefined, 'exited threads are reaped');
  assert.is(stack(k, dealloc.pid), undefined);
});

t('pids are allocated in order from 38 (xenbus 38, xenwatch 39 as in the 2018 report)', () => {
  const sim = new Sim();
  const k = new Kthreads(sim);
  assert.is(k.run('xenbus', 'xenbus_thread', function* () {}).pid, 38);
  assert.is(k.run('xenwatch', 'xenwatch_thread', function* () {}).pid, 39);
});

t.run();
