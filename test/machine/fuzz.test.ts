// `npm run fuzz`, a short pass with fixed seeds: every target runs a bounded
// number of frames and must break no invariant (the targets check them after
// each frame; see src/machine/fuzz/). Longer runs: RELIABILITY.md.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FUZZ_TARGETS, replayLine } from '../../src/machine/fuzz/index.ts';
import { fuzzXsRing } from '../../src/machine/fuzz/xenstored.ts';

const F = suite('fuzz (short pass)');
const COUNTS: Record<string, number> = { 'xs-ring': 3000, 'xs-socket': 400, hypercall: 1500, netif: 1500, blkif: 200 };

for (const [name, run] of Object.entries(FUZZ_TARGETS)) {
  F(`${name}: ${COUNTS[name]} frames, seed 7, no invariant broken`, async () => {
    const r = await run(7, { count: COUNTS[name]!, seconds: 60 });
    assert.is(r.failure, undefined, `${r.failure}\nreplay: ${replayLine(r, 7)}`);
    assert.is(r.frames, COUNTS[name]);
    assert.ok(r.invariants.length >= 3);
  });
}

F('the same seed gives the same run (xs-ring notes and frames)', () => {
  const a = fuzzXsRing(11, { count: 500, seconds: 60 });
  const b = fuzzXsRing(11, { count: 500, seconds: 60 });
  assert.equal({ ...a, seconds: 0 }, { ...b, seconds: 0 });
});

F.run();
