// The Chrome/Perfetto trace names hypercalls by their sub-ops with decoded
// arguments, and a hang verdict is a global instant at the suspicion time.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runScenario } from '../../src/machine/run_kernel.ts';

const t = suite('trace: named hypercalls and the hang mark');

t('ring.ts under unmask=checks-mask: EVTCHNOP_*/HVMOP_*/set_timer_op with their arguments; the verdict marks the hang', async () => {
  const r = await runScenario({ kernel: 'kernels/ring.ts', seed: 1, variant: 'unmask=checks-mask', trace: true, hostLog: () => {} });
  assert.is(r.verdict?.outcome, 'hang');
  const ev = r.sim.trace.events;
  const calls = ev.filter((e) => e.cat === 'hypercall' && e.pid === 1);
  const byName = (n: string) => calls.filter((e) => e.name === n);
  // No bare hypercall names with a numeric cmd are left.
  assert.equal(calls.filter((e) => /^(event_channel_op|hvm_op|sched_op)$/.test(e.name) || (e.args && 'cmd' in e.args)), []);
  const cb = byName('HVMOP_set_param')[0]!;
  assert.equal(cb.args, { hypercall: 'hvm_op', rc: 0, domid: 0x7ff0, param: 'HVM_PARAM_CALLBACK_IRQ', value: '0x1' });
  assert.equal(byName('HVMOP_set_evtchn_upcall_vector')[0]!.args, { hypercall: 'hvm_op', rc: 0, vcpu: 0, vector: 32 });
  assert.equal(byName('EVTCHNOP_bind_virq')[0]!.args, { hypercall: 'event_channel_op', rc: 0, virq: 0, vcpu: 0, port: 3 });
  // alloc_unbound's OUT port is read back after the call.
  assert.equal(byName('EVTCHNOP_alloc_unbound')[0]!.args, { hypercall: 'event_channel_op', rc: 0, remote_dom: 0, port: 4 });
  assert.equal(byName('EVTCHNOP_send')[0]!.args, { hypercall: 'event_channel_op', rc: 0, port: 2 });
  const timer = byName('set_timer_op')[0]!;
  assert.equal(Object.keys(timer.args!).sort(), ['hypercall', 'rc', 'timeout']);
  assert.ok((timer.args!['timeout'] as number) > 0);
  const marks = ev.filter((e) => e.cat === 'verdict');
  assert.is(marks.length, 1);
  const m = marks[0]!;
  assert.equal([m.ph, m.s, m.ts], ['i', 'g', r.verdict!.suspectedAt / 1000]);
  assert.match(m.name, /^hang: /);
  assert.equal([m.args!['outcome'], m.args!['vcpu'], m.args!['ports']], ['hang', 'd1v0', '4']);
});

t.run();
