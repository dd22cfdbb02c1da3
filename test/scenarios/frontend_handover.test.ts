import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { frontendHandover, HANDOVER_STEPS, runFrontendHandover } from '../../src/machine/scenarios/frontend_handover.ts';
import { scenarios } from '../../src/machine/scenarios/index.ts';
import { main as scenarioMain } from '../../src/cli/scenario.ts';
import { capture } from '../capture.ts';

const t = suite('scenario frontend-handover');
const SEEDS = { netback: 41, blkback: 42 } as const;


t('registered', () => {
  assert.is(scenarios['frontend-handover'], frontendHandover);
});

for (const backend of ['netback', 'blkback'] as const) {
  t(`${backend}: every check holds (3 hand-overs, 3 detach/attach rounds)`, async () => {
    const r = await frontendHandover.run({ seed: SEEDS[backend], handoverBackend: backend, cycles: 3 });
    const text = r.transcript.render({ checks: true });
    assert.equal(r.failures, [], text);
    assert.equal(r.transcript.steps.map((s) => s.id), [...HANDOVER_STEPS]);
    const checks = r.transcript.steps.flatMap((s) => s.checks.map((c) => c.name));
    for (let i = 1; i <= 3; i++) {
      for (const want of [
        `cycle ${i}: every grant given back`,
        `cycle ${i}: dom0 maps only d1's xenstore and console rings`,
        `cycle ${i}: d1 holds no xenstore watch while suspended`,
        `cycle ${i}: backend Closing → Closed → InitWait → Connected`,
        `cycle ${i}: the backend-state watch is unregistered (UNWATCH) before Closing`,
        `cycle ${i}: guest grants back to baseline`,
        `cycle ${i}: traffic after reconnect reached the backend`,
        `cycle ${i}: a new event channel`,
        `round ${i}: the frontend closed and gave every grant back`,
        `round ${i}: d1's event channels: only the non-device ones`,
        `round ${i}: the frontend connects to the new device and passes traffic`,
        `round ${i}: grants as after the first connect`,
      ]) assert.ok(checks.some((c) => c.startsWith(want)), `missing check: ${want}`);
    }
    for (const want of ["d1's event channels: as many", "dom0's event channels: as many", "d1's grant table: as many", 'dom0 maps as many', 'd1 holds as many xenstore watches']) {
      assert.ok(checks.some((c) => c.startsWith(want)), `missing check: ${want}`);
    }
    // Both ends' states, per cycle, as xenstored committed them.
    const kind = backend === 'netback' ? 'vif/1/0' : 'vbd/1/51712';
    const beLine = `## backend  /local/domain/0/backend/${kind}/state: 5 (Closing) → 6 (Closed) → 2 (InitWait) → 4 (Connected)`;
    assert.is(text.split('\n').filter((l) => l === beLine).length, 3, text);
    const fe = backend === 'netback' ? '1 (Initialising) → 4 (Connected)' : '1 (Initialising) → 3 (Initialised) → 4 (Connected)';
    assert.is(text.split('\n').filter((l) => l.startsWith('## frontend ') && l.endsWith(`5 (Closing) → 6 (Closed) → ${fe}`)).length, 3);
    // The guest's own count: 0 while suspended, the baseline after each cycle and at the end.
    const con = r.host.console(1)!;
    const base = Number(/kexec: baseline: grants (\d+)/.exec(con)![1]);
    assert.ok(base > 0);
    assert.equal([...con.matchAll(/cycle \d closed: grants (\d+) returned (\w+)/g)].map((m) => `${m[1]} ${m[2]}`), ['0 yes', '0 yes', '0 yes']);
    assert.equal([...con.matchAll(/cycle \d done: grants (\d+)/g)].map((m) => Number(m[1])), [base, base, base]);
    assert.match(con, new RegExp(`handover done: 3 cycles grants ${base} baseline ${base}`));
    assert.is([...con.matchAll(/detached: grants 0 returned yes/g)].length, 3);
    if (backend === 'netback') assert.match(text, /# ethtool -S vif1\.0\nNIC statistics:/);
    assert.is(r.host.kernel!.oopses.length, 0);
    assert.equal(r.host.hv.internalErrors, []);
  });
}

t('other seeds and cycle counts pass too', async () => {
  for (const [backend, seed, cycles] of [['netback', 7, 1], ['blkback', 8, 2], ['netback', 99, 4]] as const) {
    const r = await frontendHandover.run({ seed, handoverBackend: backend, cycles });
    assert.equal(r.failures, [], `${backend} seed ${seed} cycles ${cycles}\n${r.transcript.render({ checks: true })}`);
  }
});

t('a frontend that keeps a grant per hand-over fails the checks, with the replay line', async () => {
  const r = await runFrontendHandover({ seed: 4, handoverBackend: 'netback', cycles: 2 }, { kernelArgs: 'leak=1' });
  assert.is(r.ok, false);
  assert.ok(r.failures.some((f) => f.startsWith('handover: cycle 1: every grant given back')), r.failures.join('\n'));
  assert.ok(r.failures.some((f) => f.startsWith('handover: cycle 2: guest grants back to baseline')), r.failures.join('\n'));
  assert.ok(r.failures.some((f) => f.startsWith("leaks: d1's grant table: as many live entries")), r.failures.join('\n'));
  assert.is(r.replay, 'xenode scenario frontend-handover --backend netback --cycles 2 --seed 4');
});

t('determinism: the same seed gives the same transcript, byte for byte', async () => {
  for (const backend of ['netback', 'blkback'] as const) {
    const a = await frontendHandover.run({ seed: 5, handoverBackend: backend, cycles: 2 });
    const b = await frontendHandover.run({ seed: 5, handoverBackend: backend, cycles: 2 });
    assert.is(a.transcript.render({ checks: true }), b.transcript.render({ checks: true }));
    assert.is(a.host.sim.now, b.host.sim.now);
  }
});

t('--stop-after boot leaves the domain connected', async () => {
  const r = await frontendHandover.run({ seed: 3, handoverBackend: 'netback', cycles: 2, stopAfter: 'boot' });
  assert.is(r.transcript.steps.at(-1)!.id, 'boot');
  assert.equal(r.failures, []);
});

t('CLI: --backend blkback --cycles N --json, replay line, bad options', async () => {
  let r = await capture(() => scenarioMain(['frontend-handover', '--backend', 'blkback', '--cycles', '1', '--seed', '6', '--json']));
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.ok, true);
  assert.is(j.replay, 'xenode scenario frontend-handover --backend blkback --cycles 1 --seed 6');
  assert.equal(j.steps.map((s: { id: string }) => s.id), [...HANDOVER_STEPS]);
  r = await capture(() => scenarioMain(['frontend-handover', '--backend', 'blkback-io']));
  assert.is(r.code, 2);
  assert.match(r.err, /--backend must be netback or blkback/);
  r = await capture(() => scenarioMain(['frontend-handover', '--cycles', '0', '--seed', '9']));
  assert.is(r.code, 2);
  assert.match(r.err, /--cycles must be a positive integer/);
  r = await capture(() => scenarioMain(['frontend-handover', '--cycles', '1', '--seed', '2']));
  assert.is(r.code, 0);
  assert.match(r.out, /scenario frontend-handover: ok \(\d+ checks\)/);
});

t.run();
