// `xenode run kernels/ring.ts` from any directory: the argument is resolved
// once (the current directory first, then the package), and the type-check,
// the kernel's `//xl:` lines and the build all get that one absolute path. It
// used to reach the type-check as given, which tsc resolved against the
// current directory (`cd /tmp && xenode run kernels/ring.ts`: "File
// '/tmp/kernels/ring.ts' not found"), and the `//xl:` lines were read the
// same way (a netfront kernel lost its vif).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveKernelArg, UsageError } from '../../src/cli/args.ts';
import { ROOT } from '../../src/machine/kernels.ts';
import { kernelConfig } from '../../src/machine/run_kernel.ts';

const t = suite('xenode run from another directory');
const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'xenode-cwd-'));
t.after(() => fs.rmSync(elsewhere, { recursive: true, force: true }));

t('a package kernel resolves to the package; a file of your own wins; neither is a usage error', () => {
  assert.is(resolveKernelArg('kernels/ring.ts', elsewhere), path.join(ROOT, 'kernels/ring.ts'));
  fs.mkdirSync(path.join(elsewhere, 'kernels'));
  fs.copyFileSync(path.join(ROOT, 'kernels/ring.ts'), path.join(elsewhere, 'kernels/ring.ts'));
  assert.is(resolveKernelArg('kernels/ring.ts', elsewhere), path.join(elsewhere, 'kernels/ring.ts'));
  fs.rmSync(path.join(elsewhere, 'kernels'), { recursive: true });
  assert.throws(() => resolveKernelArg('kernels/nope.ts', elsewhere), (e: unknown) => e instanceof UsageError && /no such kernel/.test((e as Error).message));
});

t("the kernel's //xl: lines are read from the resolved file (netfront keeps its vif)", () => {
  const cfg = kernelConfig(resolveKernelArg('kernels/netfront.ts', elsewhere), 'nf', '');
  assert.match(cfg, /^vif = /m);
});

t('cd elsewhere && xenode run kernels/ring.ts: type-checks, runs, exit 0', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/xenode.mjs'), 'run', 'kernels/ring.ts', '--json'], { cwd: elsewhere, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { kernel: string; ok: boolean };
  assert.equal([j.kernel, j.ok], ['kernels/ring.ts', true]);
});

t.run();
