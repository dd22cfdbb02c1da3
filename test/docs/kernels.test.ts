// docs/kernels.md's examples, compiled and run as a kernel author would:
// each ```ts block that starts with `// example: NAME.ts` is written to a
// folder outside the repository (with xenode installed there as a package,
// node_modules/xenode -> this repository), type-checked with tsc, created
// with `xl create` on an emulated machine (its `// cfg:` lines added to the
// domain's config) and run until it powers off; its console must show each
// `// expect:` line, in order.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Machine } from '../../src/machine/machine.ts';
import { ROOT } from '../../src/machine/kernels.ts';
import { typecheckKernel } from '../../src/machine/typecheck.ts';

interface Example {
  name: string;
  code: string;
  cfg: string[];
  expect: string[];
}

function examples(md: string): Example[] {
  const out: Example[] = [];
  for (const m of md.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const code = m[1]!;
    const name = /^\/\/ example: (\S+\.ts)\n/.exec(code)?.[1];
    if (!name) continue;
    const lines = (tag: string) => [...code.matchAll(new RegExp(`^// ${tag}: (.*)$`, 'gm'))].map((x) => x[1]!);
    out.push({ name, code, cfg: lines('cfg'), expect: lines('expect') });
  }
  return out;
}

const D = suite('docs/kernels.md examples');
const all = examples(readFileSync(path.join(ROOT, 'docs/kernels.md'), 'utf8'));
const dir = mkdtempSync(path.join(os.tmpdir(), 'xenode-docs-'));
mkdirSync(path.join(dir, 'node_modules'));
symlinkSync(ROOT, path.join(dir, 'node_modules', 'xenode'));
for (const e of all) writeFileSync(path.join(dir, e.name), e.code);

D.after(() => rmSync(dir, { recursive: true, force: true }));

D('the document has the examples it promises', () => {
  assert.equal(all.map((e) => e.name), ['hello.ts', 'threads.ts', 'rx.ts', 'xs.ts', 'net.ts', 'blk.ts']);
  for (const e of all) assert.ok(e.expect.length > 0, `${e.name} expects something`);
});

D('every example type-checks (as `xenode run` checks it)', () => {
  const r = typecheckKernel(all.map((e) => path.join(dir, e.name)));
  if (!r.checked) {
    console.log('  (skipped: typescript is not installed)');
    return;
  }
  assert.equal(r.errors, []);
});

D('a type error is reported with file:line:col', () => {
  const bad = path.join(dir, 'bad.ts');
  writeFileSync(bad, "import { kernel } from 'xenode/guest';\nkernel(() => {\n  const n: number = 'x';\n  return n;\n});\n");
  const r = typecheckKernel(bad);
  if (!r.checked) return;
  assert.is(r.errors.length, 1);
  assert.match(r.errors[0]!, /bad\.ts:3:9: error TS2322: Type 'string' is not assignable to type 'number'/);
});

for (const e of all) {
  D(`${e.name} runs and prints what the document says`, async () => {
    const out: string[] = [];
    const m = new Machine({ seed: 1, onConsole: (_d, t) => out.push(t) });
    const name = `ex-${path.basename(e.name, '.ts')}`;
    m.files.set('ex.cfg', [`name = "${name}"`, `kernel = "${path.join(dir, e.name)}"`, 'memory = 32', 'on_poweroff = "preserve"', ...e.cfg].join('\n') + '\n');
    const r = await m.xl('create ex.cfg');
    assert.is(r.code, 0, r.stderr);
    const d = m.hv.domain(1)!;
    m.sim.runUntil(() => d.shutdownReason !== undefined, { until: m.sim.now + 10e9 });
    // xenconsoled may read the last of the console ring after the poweroff
    // (how soon depends on the schedule): give it up to a virtual second.
    const last = e.expect[e.expect.length - 1]!;
    m.sim.runUntil(() => out.join('').includes(last), { until: m.sim.now + 1e9 });
    const text = out.join('');
    assert.is(d.shutdownReason, 0, `${e.name} did not power off:\n${text}`);
    let at = 0;
    for (const x of e.expect) {
      const i = text.indexOf(x, at);
      assert.ok(i >= 0, `${e.name}: expected "${x}" (in order) in:\n${text}`);
      at = i + x.length;
    }
  });
}

D.run();
