// A guest can never stop the host (issue 11, item 1): a kernel that spins
// forever in a later resume (no watchdog thread guards those) runs out of its
// step budget (src/machine/budget.ts), is crashed as Xen's watchdog crashes a
// domain, and dom0, xenstored and another domain carry on.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { buildKernel } from '../../src/machine/kernels.ts';
import { insertBudget } from '../../src/machine/budget.ts';

const B = suite('guest step budget');

B('a kernel spinning after its first resume is crashed within its budget; xenstored and another domain carry on', async () => {
  const m = new Machine({ seed: 3, xenpvQemu: false });
  m.files.set('spin.cfg', 'name = "spin"\nkernel = "test/guest/kernels/spin_later.ts"\nmemory = 32\non_crash = "preserve"\n');
  m.files.set('hello.cfg', 'name = "hello"\nkernel = "kernels/hello.ts"\nmemory = 32\non_poweroff = "preserve"\n');
  assert.is((await m.xl('create spin.cfg')).code, 0);
  assert.is((await m.xl('create hello.cfg')).code, 0);
  const t0 = performance.now();
  m.sim.run({ until: m.sim.now + 3e9 });
  const ms = performance.now() - t0;
  assert.ok(ms < 5000, `the host ran ${ms.toFixed(0)} ms`);
  const list = m.xlSync('list').stdout;
  assert.match(list, /^spin\s+1\s+\d+\s+1\s+---sc-/m, list);
  assert.match(list, /^hello\s+2\s+\d+\s+1\s+---s--/m, list);
  assert.match(m.console(1) ?? '', 'spinning now');
  assert.match(m.console(2) ?? '', 'Goodbye.');
  const dmesg = m.xlSync('dmesg').stdout;
  assert.match(dmesg, /\(XEN\) domain_crash called for d1: kernel: Watchdog timer fired for domain 1 \(a guest slice ran over its budget of \d+ steps\)/, dmesg);
  // xenstored still answers.
  assert.is(m.xenstoreRead('/local/domain/2/name').stdout, 'hello\n');
  assert.is(m.xenstoreRead('/local/domain/1/name').stdout, 'spin\n');
});

B('the transform: loops and function bodies carry the check, lines are unchanged, behaviour is the same', async () => {
  const src = '"use strict";\nconst f = (a) => a + 1;\nfunction g(n) {\n  let s = 0;\n  for (let i = 0; i < n; i++) s += f(i);\n  while (s > 100) s -= 7;\n  for (const x of [1, 2]) s += x;\n  do { s++; } while (s % 3);\n  return `${s}/${[1].map((x) => { return x; })}` + /}{/.source;\n}\nglobalThis.out = g(20);\n';
  const out = insertBudget(src);
  assert.is(out.split('\n').length, src.split('\n').length);
  assert.is((out.match(/__xenode_budget_over\(\)/g) ?? []).length, 7);
  const run = (code: string) => { const o: { out?: unknown } = {}; new Function('globalThis', code)(o); return o.out; };
  assert.is(run(out), run(src));
  assert.throws(() => insertBudget('"use strict";\nlet __xenode_budget_cell = 1;\n'), /reserved name/);
  const b = await buildKernel('kernels/hello.ts');
  assert.match(b.code.split('\n')[0]!, /^"use strict"; const __xenode_budget_cell = new Int32Array\(1\)/);
});

B.run();
