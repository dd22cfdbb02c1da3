import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { xenwatchStall } from '../../src/machine/scenarios/index.ts';
import { CREATE_FAIL_LINES, DESTROY_LINES, STALL_STEPS, listRows } from '../../src/machine/scenarios/xenwatch_stall.ts';
import type { ScenarioOptions } from '../../src/machine/scenarios/types.ts';

const stall = suite('scenario xenwatch-stall');
const BACKENDS = ['netback', 'blkback-io', 'blkback-grant'] as const;
const SEEDS: Record<string, number> = { netback: 11, 'blkback-io': 12, 'blkback-grant': 13 };

for (const backend of BACKENDS) {
  for (const xenwatch of ['single', 'mtwatch'] as const) {
    stall(`${backend} / ${xenwatch}: every step holds`, async () => {
      const opts: ScenarioOptions = { seed: SEEDS[backend]!, backend, xenwatch };
      const r = await xenwatchStall.run(opts);
      assert.equal(r.failures, [], r.transcript.render({ checks: true }));
      assert.equal(r.transcript.steps.map((s) => s.id), [...STALL_STEPS]);
      const step = (id: string) => r.transcript.steps.find((s) => s.id === id)!.lines.join('\n');
      const be = backend === 'netback' ? '/local/domain/0/backend/vif/1/0' : '/local/domain/0/backend/vbd/1/51712';
      assert.ok(step('destroy').includes(DESTROY_LINES(1, be).join('\n')));
      assert.ok(step('zombie').includes('(null)                                       1     0     1     --p--d'));
      const stuck = xenwatch === 'single' ? '[xenwatch]' : '[xen-mtwatch-1]';
      assert.match(step('stuck-thread'), new RegExp(`\\d+ D    \\${stuck}`));
      if (xenwatch === 'single') {
        assert.ok(step('create-next').includes(['Parsing config from pv.cfg', ...CREATE_FAIL_LINES(2)].join('\n')));
      } else {
        assert.not.match(step('create-next'), /libxl: error/);
        assert.match(step('create-next'), /\n\s+\d+ S    \[xenwatch\]/);
      }
      assert.not.match(step('drained'), /\(null\)/);
      assert.is(r.host.kernel!.oopses.length, 0);
      assert.equal(r.host.hv.internalErrors, []);
    });
  }
}

stall('domain 1 is a real unikernel frontend (its console is shown)', async () => {
  const r = await xenwatchStall.run({ seed: 21, backend: 'blkback-grant', xenwatch: 'mtwatch' });
  assert.equal(r.failures, [], r.transcript.render({ checks: true }));
  assert.match(r.transcript.render(), /# xl console blkfront-1\n/);
});

stall('determinism: the same seed gives the same transcript, byte for byte', async () => {
  const a = await xenwatchStall.run({ seed: 5, backend: 'netback', xenwatch: 'mtwatch' });
  const b = await xenwatchStall.run({ seed: 5, backend: 'netback', xenwatch: 'mtwatch' });
  assert.is(a.transcript.render({ checks: true }), b.transcript.render({ checks: true }));
});

stall('other seeds pass too (a small sweep)', async () => {
  for (const seed of [101, 202]) {
    const r = await xenwatchStall.run({ seed, backend: 'blkback-grant', xenwatch: 'single' });
    assert.equal(r.failures, [], `seed ${seed}`);
  }
});

stall('--stop-after leaves the machine at that step (for ps / stack)', async () => {
  const r = await xenwatchStall.run({ seed: 1, backend: 'netback', xenwatch: 'single', stopAfter: 'stuck-thread' });
  assert.is(r.transcript.steps.at(-1)!.id, 'stuck-thread');
  const k = r.host.kernel!;
  assert.is(k.kthreads.get(k.xenwatchPid)!.state, 'D');
  assert.match(k.stack(k.xenwatchPid)!, /^\[<0>\] kthread_stop\+0x3e\/0x110\n\[<0>\] xenvif_disconnect_data\+0x74\/0xa0 \[xen_netback\]/);
  const list = r.host.xlSync('list');
  assert.equal(listRows(list).slice(1), ['(null)                                       1     0     1     --p--d']);
});

stall.run();
