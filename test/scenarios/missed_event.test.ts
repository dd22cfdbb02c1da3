// xenode scenario missed-event: the 2020 PVHv2 hang with the report's kind of
// guest (kernels/ping.ts: xenstore, console, netfront, ping responder) on a
// full host. Pinned seeds reproduce the report's two situations with its port
// lines; each variant fails through its own mechanism; the fixed runtime
// survives every workload.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { missedEvent } from '../../src/machine/scenarios/missed_event.ts';
import { formatExplanation, sameInstantNote } from '../../src/machine/explain.ts';

const M = suite('scenario missed-event');
const run = (variant: string, workload: string, seed: number, count?: number) =>
  missedEvent.run({ seed, variant, workload, ...(count !== undefined ? { count } : {}) });
const lines = (r: Awaited<ReturnType<typeof run>>) => r.portLines.map((l) => l.trim());

M('(a) june-2020 hangs during netfront bring-up: xenstore 1 [1/0/1], console 2 [1/1/1], VIRQ_TIMER 3 [1/0/1] (seed 1)', async () => {
  const r = await run('june-2020', 'netfront-setup', 1);
  assert.is(r.outcome, 'hang');
  assert.equal(lines(r).slice(0, 3), [
    '1 [1/0/1]: s=3 n=0 x=0 d=0 p=1',
    '2 [1/1/1]: s=3 n=0 x=0 d=0 p=2',
    '3 [1/0/1]: s=5 n=0 x=0 v=0',
  ]);
  assert.ok(!r.transcript.steps.find((s) => s.id === 'boot')!.checks.every((c) => c.ok), 'hung before the stack came up');
  assert.match(r.verdict!.detail, /still halted after VIRQ_TIMER fired/);
  const e = r.explanations[0]!;
  assert.is(e.kind, 'lost-interrupt');
  assert.match(e.title, /port 1 \(xenstore\), port 3 \(VIRQ_TIMER\) \[1\/0\/1\]/);
  const kinds = e.raw.map((s) => (s.kind === 'door' ? s.label : s.kind));
  assert.ok(kinds.indexOf('block:check upcall_pending') < kinds.indexOf('send') && kinds.indexOf('irq') < kinds.indexOf('hlt') && kinds.at(-1) === 'virq', kinds.join(' | '));
  // Hung while booting: no virtual time had passed, and the explanation says so rather than look broken.
  assert.ok(e.raw.slice(0, -1).every((x) => x.t === 0), e.steps.join('\n'));
  assert.match(e.timeNote ?? '', /^steps 1-\d+ share t=0\.000000 ms \(t=0: before any virtual time passed/);
  assert.match(formatExplanation(e), /\n  time: steps 1-/);
  assert.match(r.replay, /^xenode scenario missed-event --variant june-2020 --workload netfront-setup --seed 1$/);
});

M('(b) june-2020 hangs after ping -f: netfront 4 [1/0/1], xenstore 1 [0/0/1] (seed 3)', async () => {
  const r = await run('june-2020', 'ping-flood', 3, 500);
  assert.is(r.outcome, 'hang');
  assert.ok(r.transcript.steps.find((s) => s.id === 'boot')!.checks.every((c) => c.ok), 'netfront came up first');
  assert.is(lines(r)[0], '1 [0/0/1]: s=3 n=0 x=0 d=0 p=1');
  assert.is(lines(r)[3], '4 [1/0/1]: s=3 n=0 x=0 d=0 p=3');
  assert.match(r.explanations[0]!.title, /port 4 \(netfront\)/);
  // After the flood started: each step is stamped with the recorder's virtual time, not 0.
  const e = r.explanations[0]!;
  assert.equal(e.steps.map((l) => Number(/\[t=([\d.]+) ms\]/.exec(l)![1])), e.raw.map((x) => Number((x.t / 1e6).toFixed(6))));
  assert.ok(e.raw.every((x) => x.t > 10e6), e.steps.join('\n'));
  assert.not.match(r.pingOutput, / 0% packet loss/);
});

M('unmask=checks-mask: a wedged port [1/0/0] until a timer of the same word rescues it (netfront-setup seed 31)', async () => {
  const r = await run('unmask=checks-mask', 'netfront-setup', 31);
  assert.is(r.outcome, 'stall');
  const e = r.explanations[0]!;
  assert.is(e.kind, 'wedged');
  assert.ok(lines(r).some((l) => /^\d+ \[1\/0\/0\]/.test(l)), lines(r).join('\n'));
  const masked = e.raw.findIndex((s) => s.kind === 'send' && s.value === 2);
  const test = e.raw.findIndex((s) => s.kind === 'door' && s.label === 'unmask:test mask (as pending)');
  assert.ok(masked >= 0 && test > masked, e.steps.join('\n'));
  assert.match(e.fix, /df0b6b5/);
});

M('block=hlt-without-cli: the lost interrupt on every workload (seed 1)', async () => {
  for (const w of ['netfront-setup', 'ping-flood', 'xenstore']) {
    const r = await run('block=hlt-without-cli', w, 1, 200);
    assert.is(r.outcome, 'hang', w);
    assert.is(r.explanations[0]!.kind, 'lost-interrupt', w);
  }
});

M('handler-clears-upcall-pending: masked after delivery in the demux..cli window, rescued by the next timer (ping-flood seed 1)', async () => {
  const r = await run('handler-clears-upcall-pending', 'ping-flood', 1, 500);
  assert.is(r.outcome, 'stall');
  const e = r.explanations[0]!;
  assert.is(e.kind, 'masked-after-delivery');
  const l = e.raw.map((s) => (s.kind === 'door' ? s.label : s.kind));
  assert.ok(l.indexOf('irq') < l.indexOf('irq:demux:mask port') && l.indexOf('irq:demux:mask port') < l.indexOf('cli'), l.join(' | '));
});

M('sameInstantNote: names the longest run of one stamp; nothing when every stamp differs', () => {
  const at = (t: number, seq: number) => ({ seq, t }) as Parameters<typeof sameInstantNote>[0][number];
  assert.is(sameInstantNote([at(1e6, 1), at(2e6, 2)]), undefined);
  assert.match(sameInstantNote([at(1e6, 1), at(2e6, 2), at(2e6, 3), at(2e6, 4), at(3e6, 5)])!, /^steps 2-4 share t=2\.000000 ms: virtual time moves only when nothing is runnable/);
});

M('upcall=global-callback: the hypervisor sees the storm and livelocks the vCPU (seed 1)', async () => {
  const r = await run('upcall=global-callback', 'netfront-setup', 1);
  assert.is(r.outcome, 'hang');
  assert.is(r.explanations[0]!.kind, 'storm');
  assert.is(r.host.hv.domain(1)!.shutdownReason, undefined, 'the guest did not crash itself');
});

M('the fixed runtime survives every workload (seeds 1..4 each, ping -f -c 1000)', async () => {
  for (const w of ['netfront-setup', 'ping-flood', 'xenstore']) {
    for (let seed = 1; seed <= 4; seed++) {
      const r = await run('fixed', w, seed, w === 'ping-flood' ? 1000 : 30);
      assert.is(r.outcome, 'ok', `${w} seed ${seed}: ${r.failures.join('; ')}`);
      assert.ok(r.ok);
    }
  }
});

M('a run replays bit for bit: same seed, same transcript and recorder', async () => {
  const a = await run('june-2020', 'ping-flood', 3, 500);
  const b = await run('june-2020', 'ping-flood', 3, 500);
  assert.is(a.transcript.render({ checks: true }), b.transcript.render({ checks: true }));
  assert.is(a.host.hv.recorder!.total, b.host.hv.recorder!.total);
  assert.is(a.host.sim.steps, b.host.sim.steps);
});

M.run();
