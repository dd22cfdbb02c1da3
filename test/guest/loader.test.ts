// Loader robustness and the hello kernel end to end, on the fake hypervisor.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildKernel } from '../../src/machine/kernels.ts';
import { loadKernel } from '../../src/dom0/toolstack/loader.ts';
import { FakeDomain, FakeWorld } from '../support/fake_xen.ts';

async function boot(path: string, opts: { variant?: string; bootTimeoutMs?: number; budget?: boolean } = {}) {
  const w = new FakeWorld();
  const d = w.add(new FakeDomain(w, 7));
  const { code } = await buildKernel(path, { variant: opts.variant, ...(opts.budget === false ? { budget: false } : {}) });
  const crashes: string[] = [];
  const k = loadKernel(code, { domid: 7, now: () => w.now, bootTimeoutMs: opts.bootTimeoutMs ?? 2000, onCrash: (id, m) => crashes.push(`d${id}: ${m}`) });
  d.entry = k.start(d, 0x1000);
  const r = w.run(10000);
  return { w, d, k, r, crashes };
}

const T = suite('loader');

T('hello kernel boots, prints, sleeps in virtual time and powers off', async () => {
  const { d, r, crashes, w } = await boot('kernels/hello.ts');
  assert.equal(crashes, []);
  assert.is(r, 'done');
  assert.is(d.shutdown, 0);
  assert.match(d.console, 'Hello from xenode!');
  assert.match(d.console, 'slept 1000 ms (virtual)');
  assert.match(d.console, 'interval ticked 4 times, now 2000 ms');
  assert.match(d.console, 'Date 2020-06-15T00:00:02.100Z');
  assert.is(w.now, 2_100_000_000);
});

T('a kernel that throws in main crashes its domain with the message on its console', async () => {
  const { d, crashes } = await boot('test/guest/kernels/throws.ts');
  assert.is(d.shutdown, 3);
  assert.match(d.console, 'about to throw');
  assert.match(d.console, 'Fatal error: Error: kernel bug');
  assert.equal(crashes, []);
});

T("with the bundle's source map, the crash's stack points at the kernel's .ts line", async () => {
  const w = new FakeWorld();
  const d = w.add(new FakeDomain(w, 7));
  const b = await buildKernel('test/guest/kernels/throws.ts');
  const k = loadKernel(b.code, { domid: 7, name: 'throws', now: () => w.now, sourceMap: b.map });
  d.entry = k.start(d, 0x1000);
  w.run(10000);
  assert.match(d.console, /at .*\.js:\d+:\d+/);
  const mapped = k.mapStack(d.console);
  // throws.ts line 4: `throw new Error('kernel bug');`
  assert.match(mapped, /at .*test\/guest\/kernels\/throws\.ts:4:9/);
  assert.match(mapped, /src\/guest\/main\.ts:\d+:\d+/);
  assert.not.match(mapped, /at [\w.-]+\.js:/);
});

T('a bundle that throws at top level is reported with its domid', async () => {
  const { crashes } = await boot('test/guest/kernels/toplevel_throw.ts');
  assert.is(crashes.length, 1);
  assert.match(crashes[0]!, /^d7: .*top-level failure/);
});

T('an infinite loop at boot is stopped by the boot timeout (a bundle without the step budget)', async () => {
  const t0 = performance.now();
  const { crashes } = await boot('test/guest/kernels/loop.ts', { bootTimeoutMs: 100, budget: false });
  assert.is(crashes.length, 1);
  assert.match(crashes[0]!, /d7: kernel did not return within 100 ms/);
  assert.ok(performance.now() - t0 < 3000);
});

T('an infinite loop at boot runs out of its step budget first (the budgeted bundle)', async () => {
  const { crashes, k } = await boot('test/guest/kernels/loop.ts', { bootTimeoutMs: 100_000 });
  assert.ok(k.budgeted);
  assert.equal(crashes, ['d7: Watchdog timer fired for domain 7 (a guest slice ran over its budget of 67108864 steps)']);
});

T('a wrong hypercall crashes the domain, not the host', async () => {
  const { d } = await boot('test/guest/kernels/badcall.ts');
  assert.is(d.shutdown, 3);
  assert.match(d.console, /EVTCHNOP_send failed: rc=-22/);
});

T('an RxJS subscriber error crashes the domain loudly', async () => {
  const { d } = await boot('test/guest/kernels/reject.ts');
  assert.is(d.shutdown, 3);
  assert.match(d.console, /rx subscriber bug/);
});

T('the bundle has no node:* and a guest may not import one', async () => {
  const { code, bytes } = await buildKernel('kernels/hello.ts');
  assert.ok(bytes > 1000 && bytes < 200_000);
  assert.not.match(code, /require\("node:/);
});

T("the realm's Date runs on virtual time and is still a Date class (its own prototype in front of Date.prototype)", () => {
  const k = loadKernel(
    `const d = new Date();
    class D extends Date {}
    globalThis.r = {
      now: d.getTime(), nowFn: Date.now(), zero: new Date(0).getTime(), str: typeof Date(),
      inst: d instanceof Date, ctor: d.constructor === Date, proto: Object.getPrototypeOf(d) === Date.prototype,
      protoCtor: Date.prototype.constructor === Date, tag: Object.prototype.toString.call(d),
      sub: new D(5).getTime(), subInst: new D(5) instanceof D && new D(5) instanceof Date, iso: d.toISOString(),
    };`,
    { domid: 1, now: () => 2_100_000_000, wallEpochNs: Date.UTC(2020, 5, 15) * 1e6 },
  );
  assert.is(k.crashed, undefined);
  const epochMs = Date.UTC(2020, 5, 15);
  assert.equal({ ...(k.context as { r: object }).r }, {
    now: epochMs + 2100, nowFn: epochMs + 2100, zero: 0, str: 'string', inst: true, ctor: true, proto: true,
    protoCtor: true, tag: '[object Date]', sub: 5, subInst: true, iso: '2020-06-15T00:00:02.100Z',
  });
});

T.run();
