// Differential tests for unprivileged guests: the same sequences against our
// daemon (in-process, ring transport) and the real cxenstored, whose guest
// rings are the kit's file-backed pages (fakexen: ring-<domid> files, kicks
// through the evtchn FIFO, dead-<domid> + VIRQ port 1 for domain death).
// Replies and events are compared byte for byte.
import { suite } from 'uvu';
import fc from 'fast-check';
import { needs, refMissing, timed } from './kit.ts';
import { compare, type Actor, type Step } from './guest_diff.ts';

const DG = suite('differential (guests) vs cxenstored');
const withRef = needs(DG, refMissing());

const SEQ: Record<string, Step[]> = {
  'permissions and errors': [
    ['intro', 5], [5, 11, 'data/x\0v'], [5, 3, 'data/x\0'], ['d0', 2, '/local/domain/5/data/x\0'],
    [5, 2, '/tool/xenstored\0'], [5, 2, '/tool/nope\0'], [5, 2, 'nope\0'], [5, 11, '/tool/x\0v'], [5, 13, '/tool\0'],
    [5, 12, '/newtop\0'], [5, 1, '/\0'], [5, 1, '/local/domain\0'], [5, 3, '/\0'],
    [5, 0, 'help\0'], [5, 8, '5\x001\x001\0'], [5, 9, '5\0'], [5, 17, '5\0'], [5, 18, '5\0'], [5, 19, '5\x006\0'],
    [5, 10, '7\0'], [5, 14, 'data/x\0n6\0'], [5, 14, 'data/x\0n5\0r1\0r2\0r3\0r4\0r6\0'],
    [5, 14, 'data/x\0n5\0r1\0r2\0r3\0r4\0'], [5, 3, 'data/x\0'], [5, 14, 'data/x\0n5\0r70000\0'],
    ['d0', 11, '/local/domain/5/q\0v'], ['d0', 14, '/local/domain/5/q\0n0\0b5\0'], [5, 14, 'q\0n0\0'], [5, 2, 'q\0'],
    [5, 11, 'q\0w'], [5, 13, 'q\0'], ['d0', 12, '/shared\0'], ['d0', 14, '/shared\0n0\0b5\0'], [5, 11, '/shared/g\0v'],
    [5, 3, '/shared/g\0'], [5, 1, '/shared\0'], ['d0', 14, '/shared\0n0\0w5\0'], [5, 2, '/shared\0'], [5, 11, '/shared/h\0v'],
    [5, 2, '/shared/h\0'], [5, 13, '/shared/g\0'], [5, 3, '@releaseDomain\0'], [5, 14, '@releaseDomain\0n5\0'],
    [5, 4, '@introduceDomain\0i\0'], [5, 6, '\0'], [5, 11, 'tx\0v', 1], [5, 7, 'T\0', 1], [5, 2, 'tx\0'],
  ],
  'watch permissions and special events': [
    ['intro', 5], ['d0', 11, '/secret/a\0v'], [5, 4, '/secret\0s\0'], [5, 4, '/secret/a\0sa\0'], ['d0', 11, '/secret/a\0v2'],
    ['d0', 11, '/secret/b\0v'], ['d0', 11, '/pub\0v'], ['d0', 14, '/pub\0n0\0r5\0'], [5, 4, '/pub\0p\0'],
    ['d0', 11, '/pub\0v3'], ['d0', 11, '/pub/kid\0k'], ['d0', 14, '/pub/kid\0n0\0'], ['d0', 11, '/pub/kid\0k2'],
    ['d0', 13, '/pub\0'], [5, 4, 'rel\0r\0'], [5, 11, 'rel/x\0v'], [5, 4, '@releaseDomain\0g\0'],
    ['d0', 4, '@releaseDomain\0d\0'], ['d0', 4, '@introduceDomain\0di\0'], ['intro', 6], ['kill', 6],
    ['d0', 14, '@releaseDomain\0n0\0r5\0'], ['intro', 7], ['kill', 7], ['d0', 9, '5\0'], ['d0', 2, '/local/domain/5\0'],
  ],
  'quotas': [
    ['intro', 5],
    ...Array.from({ length: 130 }, (_, i): Step => [5, 4, `w\0t${i}\0`]),
    ...Array.from({ length: 12 }, (): Step => [5, 6, '\0']),
    [5, 11, `v\0${'x'.repeat(2008)}`], [5, 11, `v\0${'x'.repeat(2009)}`], [5, 11, `v\0${'x'.repeat(2049)}`],
    ['d0', 11, `/big\0${'x'.repeat(4091)}`], [5, 12, 'dir\0'],
    ...Array.from({ length: 426 }, (_, i): Step => [5, 12, `dir/n${i}\0`]),
  ],
  // Failed requests change nothing (atomic.test.ts has the full snapshots): after each
  // failure, DIRECTORY/READ and a dom0 watch show the same tree on both daemons.
  'failed requests near the quotas change nothing': [
    ['intro', 5], ['d0', 4, '/local/domain/5\0w\0'], ['d0', 0, 'quota\0set\0nodes\x005\0'],
    [5, 11, 'a\0v'], [5, 11, 'b/c/d/e\0v'], [5, 12, 'b/c/d/e\0'], [5, 1, '/local/domain/5\0'],
    [5, 11, 'b/c\0v'], [5, 11, 'x/y\0v'], [5, 11, 'x\0v'], [5, 11, 'z\0v'], [5, 1, '/local/domain/5\0'],
    [5, 13, 'b\0'], [5, 1, '/local/domain/5\0'],
    ['d0', 12, '/local/domain/5/ro\0'], ['d0', 14, '/local/domain/5/ro\0n0\0r5\0'],
    [5, 11, 'ro/p/q\0v'], [5, 12, 'ro/p/q\0'], [5, 13, 'ro\0'], [5, 1, 'ro\0'],
    [5, 11, `big\0${'x'.repeat(2009)}`], [5, 2, 'big\0'], [5, 14, 'a\0n5\0r0\0r1\0r2\0r3\0r4\0'], [5, 3, 'a\0'],
    // Transactions. Not compared here (README row 13): a node quota overrun inside a
    // transaction (cxenstored: the commit fails ENOSPC; ours: the request does). The dom0
    // watch stays: nodes created and deleted in one transaction fire nothing (row 14).
    [5, 6, '\0'], [5, 11, 'b\0v', 1], [5, 7, 'T\0', 1], [5, 1, '/local/domain/5\0'],
    // XSA-421: create and delete in one transaction; accounting stays exact (r2 is one node too many)
    [5, 13, 'b\0'], [5, 13, 'x\0'], [5, 6, '\0'], [5, 11, 'm/n\0v', 2], [5, 13, 'm\0', 2], [5, 11, 'k/l\0v', 2],
    [5, 13, 'k\0', 2], [5, 7, 'T\0', 2], [5, 11, 'p/q\0v'], [5, 11, 'r\0v'], [5, 11, 'r2\0v'],
    [5, 1, '/local/domain/5\0'],
    // XSA-440: two transactions delete the same nodes; the second gets EAGAIN, accounting stays exact
    [5, 6, '\0'], [5, 6, '\0'], [5, 13, 'p\0', 3], [5, 13, 'p\0', 4], [5, 7, 'T\0', 3], [5, 7, 'T\0', 4],
    [5, 11, 's/t\0v'], [5, 11, 'u\0v'], [5, 1, '/local/domain/5\0'],
  ],
  'release, reuse of a domid (XSA-322), SET_TARGET': [
    ['intro', 9], [9, 11, 'mine\0v'], ['d0', 11, '/grant\0secret'], ['d0', 14, '/grant\0n0\0r9\0'], [9, 2, '/grant\0'],
    ['d0', 4, '@releaseDomain\0r\0'], ['d0', 9, '9\0'], ['d0', 2, '/local/domain/9/mine\0'], ['d0', 2, '/local/domain/9\0'],
    ['d0', 17, '9\0'], ['d0', 3, '/grant\0'], ['intro', 9], [9, 2, '/grant\0'], ['d0', 3, '/grant\0'],
    ['intro', 15], ['intro', 16], [16, 11, 'secret\0s'], [15, 2, '/local/domain/16/secret\0'], ['d0', 19, '15\x0016\0'],
    [15, 2, '/local/domain/16/secret\0'], [15, 11, '/local/domain/16/made\0m'], ['d0', 3, '/local/domain/16/made\0'],
    ['d0', 19, '15\x0077\0'], ['kill', 9], ['d0', 2, '/local/domain/9\0'],
  ],
};

for (const [name, steps] of Object.entries(SEQ)) {
  withRef(name, timed(async () => {
    await compare(steps);
  }));
}

withRef('randomised guest sequences (fast-check, fixed seed)', timed(async () => {
  const paths = ['/shared', '/shared/a', '/shared/a/b', '/local/domain/5/x', '/local/domain/6/y', 'rel', 'rel/z', '/tool/t'];
  const p = fc.constantFrom(...paths);
  const actor = fc.constantFrom<Actor>('d0', 5, 6);
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.tuple(actor, p, fc.constantFrom('', 'v')).map(([a, x, v]): Step => [a, 11, `${x}\0${v}`]),
    fc.tuple(actor, fc.constantFrom(2, 1, 12, 13, 3), p).map(([a, t, x]): Step => [a, t, `${x}\0`]),
    fc.tuple(actor, p, fc.constantFrom('n0\0r5', 'n5\0b6', 'n6', 'n0\0w5\0r6', 'r0', 'n5\0r6\0w0')).map(([a, x, perms]): Step => [a, 14, `${x}\0${perms}\0`]),
    fc.tuple(actor, fc.constantFrom(4, 5), p).map(([a, t, x]): Step => [a, t, `${x}\0tk\0`]),
    fc.tuple(actor).map(([a]): Step => [a, 6, '\0']),
    fc.tuple(actor, fc.constantFrom('T', 'F')).map(([a, e]): Step => [a, 7, `${e}\0`, 1]),
    fc.tuple(actor, fc.constantFrom(11, 2, 13), p).map(([a, t, x]): Step => [a, t, t === 11 ? `${x}\0t` : `${x}\0`, 1]),
  );
  const samples = fc.sample(fc.array(step, { minLength: 5, maxLength: 20 }), { seed: 4242, numRuns: 12 });
  // One reference daemon for all samples: each sample runs on fresh domids and paths.
  const all: Step[] = [];
  samples.forEach((steps, i) => {
    const a = 5 + 2 * i;
    const b = a + 1;
    const map = (x: Actor): Actor => (x === 5 ? a : x === 6 ? b : x);
    const fix = (s: string) => s.replace(/domain\/5/g, `domain/${a}`).replace(/domain\/6/g, `domain/${b}`)
      .replace(/\/shared/g, `/shared${i}`).replace(/([nrwb])5(\0)/g, `$1${a}$2`).replace(/([nrwb])6(\0)/g, `$1${b}$2`);
    all.push(['intro', a], ['intro', b]);
    for (const st of steps) {
      if (st[0] === 'intro' || st[0] === 'kill') continue;
      const [ac, t, payload, tx] = st;
      all.push([map(ac), t, fix(payload), tx]);
    }
    all.push([a, 21, ''], [b, 21, ''], ['d0', 21, ''], ['d0', 13, `/shared${i}\0`]);
  });
  await compare(all);
}));

DG.run();
