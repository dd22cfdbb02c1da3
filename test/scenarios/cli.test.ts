import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main as scenarioMain } from '../../src/cli/scenario.ts';
import { main as sweepMain } from '../../src/cli/sweep.ts';
import { main as psMain } from '../../src/cli/ps.ts';
import { main as stackMain } from '../../src/cli/stack.ts';
import { capture } from '../capture.ts';


const cli = suite('xenode scenario / sweep / ps / stack');

cli('scenario --json', async () => {
  const r = await capture(() => scenarioMain(['dm-startup', '--legacy', '--json', '--seed', '4']));
  assert.is(r.code, 0);
  const j = JSON.parse(r.out);
  assert.is(j.ok, true);
  assert.is(j.replay, 'xenode scenario dm-startup --legacy --seed 4');
  assert.is(j.steps.length, 5);
});

cli('bad options and unknown scenarios fail with a message', async () => {
  let r = await capture(() => scenarioMain(['nosuch']));
  assert.is(r.code, 2);
  assert.match(r.err, /unknown scenario 'nosuch'/);
  r = await capture(() => scenarioMain(['xenwatch-stall', '--xenwatch', 'many']));
  assert.is(r.code, 2);
  assert.match(r.err, /--xenwatch must be single or mtwatch/);
});

cli('sweep off a TTY: no progress per seed anywhere, the result on stdout', async () => {
  const r = await capture(() => sweepMain(['dm-startup', '--seeds', '1..3']));
  assert.is(r.code, 0);
  assert.match(r.out, /^sweep dm-startup: 3 seeds, all ok \([\d.]+ s\)\n$/);
  assert.is(r.err, '');
});

cli('sweep --json: the documented fields', async () => {
  const r = await capture(() => sweepMain(['run', 'kernels/ring.ts', '--variant', 'block=hlt-without-cli', '--seeds', '1..6', '--json']));
  const j = JSON.parse(r.out);
  assert.is(j.seeds, 6);
  assert.is(j.passed + j.failed, 6);
  assert.is(j.failing.length, j.failed);
  assert.is(r.code, j.failed > 0 ? 1 : 0);
  for (const f of j.failing) assert.match(f.replay, new RegExp(`--seed ${f.seed} --variant block=hlt-without-cli`));
});

cli('empty or bad seed ranges are argument errors (exit 2), not "0 seeds, all ok"', async () => {
  for (const s of ['5..1', '', 'x', '1..3,9..2']) {
    const r = await capture(() => sweepMain(['dm-startup', '--seeds', s]));
    assert.is(r.code, 2, s);
    assert.match(r.err, /bad --seeds/);
    assert.not.match(r.out, /all ok/);
  }
  const r = await capture(() => sweepMain(['nosuch', '--seeds', '1..2']));
  assert.is(r.code, 2);
  assert.match(r.err, /unknown scenario 'nosuch'/);
});

cli('ps and stack at the stuck step', async () => {
  let r = await capture(() => psMain(['--scenario', 'xenwatch-stall']));
  assert.is(r.code, 0);
  assert.match(r.out, /\n\s+39 D    \[xenwatch\]\n/);
  r = await capture(() => stackMain(['39', '--scenario', 'xenwatch-stall']));
  assert.is(r.code, 0);
  assert.match(r.out, /\[<0>\] kthread_stop\+0x3e\/0x110\n\[<0>\] xenvif_disconnect_data\+0x74\/0xa0 \[xen_netback\]/);
});

cli('sweep run KERNEL: the fixed runtime survives every seed, the hlt-without-cli build loses some', async () => {
  let r = await capture(() => sweepMain(['run', 'kernels/ring.ts', '--variant', 'fixed', '--seeds', '1..30']));
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /30 seeds, all ok/);
  r = await capture(() => sweepMain(['run', 'kernels/ring.ts', '--variant', 'block=hlt-without-cli', '--seeds', '1..30']));
  assert.is(r.code, 1);
  assert.match(r.out, /lost interrupt/);
  assert.match(r.out, /replay: xenode run kernels\/ring.ts --seed \d+ --variant block=hlt-without-cli/);
});

cli.run();
