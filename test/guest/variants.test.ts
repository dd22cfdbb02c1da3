// Each build variant of the runtime against the fixed build, on the real
// hypervisor, with pinned seeds (found by sweeping seeds 1..30 with
// kernels/ring.ts + dom0's producer thread; see src/guest/scenario.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runScenario } from '../../src/machine/run_kernel.ts';

const quiet = { hostLog: () => {} };
const V = suite('runtime variants (kernels/ring.ts + dom0 producer)');

V('fixed build completes for every pinned seed', async () => {
  for (const seed of [1, 2, 3, 9, 10, 12, 14, 17]) {
    const r = await runScenario({ kernel: 'kernels/ring.ts', seed, ...quiet });
    assert.ok(r.ok, `seed ${seed}: ${r.summary}`);
    assert.match(r.domains[0]!.console, 'ring: consumed 50/50');
  }
});

V('unmask=checks-mask hangs with a wedged port [1/0/0] (seed 1)', async () => {
  const r = await runScenario({ kernel: 'kernels/ring.ts', seed: 1, variant: 'unmask=checks-mask', ...quiet });
  assert.is(r.result.reason, 'hang');
  assert.match(r.summary, /port 2 \[1\/0\/0\]/);
  assert.match(r.hv.debugKey('e'), /\(XEN\)\s+2 \[1\/0\/0\]: s=3 n=0 x=0 d=0 p=1/);
});

V('block=hlt-without-cli loses the interrupt: [1/0/1] with upcall_pending=1 while halted (seeds 9, 10)', async () => {
  for (const seed of [9, 10]) {
    const r = await runScenario({ kernel: 'kernels/ring.ts', seed, variant: 'block=hlt-without-cli', ...quiet });
    assert.is(r.result.reason, 'hang', `seed ${seed}`);
    assert.match(r.summary, /upcall_pending=1 and port 2 \[1\/0\/1\]/);
    assert.match(r.hv.debugKey('e'), /\(XEN\)\s+2 \[1\/0\/1\]/);
    assert.match(r.hv.quiescentReport(), /v0=halted.*upcall_pending=1/);
  }
});

V('handler-clears-upcall-pending: the port stays masked after the handler demuxed it: [1/1/0] while halted (seeds 1, 4)', async () => {
  for (const seed of [1, 4]) {
    const r = await runScenario({ kernel: 'kernels/ring.ts', seed, variant: 'handler-clears-upcall-pending', ...quiet });
    assert.is(r.result.reason, 'hang', `seed ${seed}: ${r.summary}`);
    assert.is(r.domains[0]!.shutdownReason, undefined);
    assert.match(r.summary, /no interrupt or timer within a day, with port 2 \[1\/1\/0\] \(masked after delivery/);
    assert.match(r.hv.debugKey('e'), /\(XEN\)\s+2 \[1\/1\/0\]: s=3 n=0 x=0/);
    assert.match(r.hv.quiescentReport(), /v0=halted.*upcall_pending=0/);
  }
});

V('the masked-after-delivery rule never fires on the fixed build (ring seeds 1..40, pingpong seeds 1..5)', async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = await runScenario({ kernel: 'kernels/ring.ts', seed, ...quiet });
    assert.ok(r.ok, `ring seed ${seed}: ${r.summary}`);
  }
  for (let seed = 1; seed <= 5; seed++) {
    const r = await runScenario({ kernel: 'kernels/pingpong.ts', seed, ...quiet });
    assert.ok(r.ok, `pingpong seed ${seed}: ${r.summary}`);
  }
});

V('upcall=global-callback with the no-op handler re-enters endlessly: detected and reported', async () => {
  const r = await runScenario({ kernel: 'kernels/ring.ts', seed: 1, variant: 'upcall=global-callback', ...quiet });
  assert.not.ok(r.ok);
  const con = r.domains[0]!.console;
  assert.ok(/re-entered \d+ times/.test(con) || /interrupt storm/.test(r.summary), `${r.summary}\n${con}`);
});

V.run();
