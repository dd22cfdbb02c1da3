// The peers of the interop and differential tests (real clients and Xen's own
// daemons, set up by scripts/setup-peers.sh) and how a test that needs one is
// registered: run when the peer is there, uvu's skip (counted in npm test's
// "N skipped") when it is not, and a failure under CI=true, where .ci/run
// has installed every peer.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Test, Callback } from 'uvu';
import { kitEnv, startRef, type RefDaemon } from '../../support/anchor_kit.ts';

export { kitEnv, startRef, type RefDaemon };

/**
 * `t` itself when `why` is undefined (the peer is present); otherwise a
 * register function that skips the test with a note, or, under CI=true,
 * registers a test that fails saying what is missing.
 */
export function needs<C>(t: Test<C>, why: string | undefined): (name: string, fn: Callback<C>) => void {
  if (why === undefined) return (name, fn) => t(name, fn);
  if (process.env.CI === 'true') {
    return (name) =>
      t(name, () => {
        throw new Error(`required in CI but missing: ${why}`);
      });
  }
  return (name) => {
    console.log(`  skipping "${name}": ${why}`);
    t.skip(name);
  };
}

/** Why the reference daemons cannot run here, or undefined. */
export function refMissing(): string | undefined {
  return kitEnv() ? undefined : 'reference cxenstored not set up (scripts/setup-peers.sh)';
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * The python3 interpreters to try, in order: $PYTHON3, every python3 on PATH
 * (a pyenv shim may come first without the distribution's packages), then the
 * distribution's own. Each is listed once.
 */
export function python3Candidates(): string[] {
  const out = [process.env.PYTHON3 ?? ''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) out.push(path.join(dir, 'python3'));
  out.push('/usr/bin/python3', '/usr/local/bin/python3');
  // Listed once per interpreter (/bin/python3 and /usr/bin/python3 are often one file).
  const seen = new Set<string>();
  return out.filter((p) => {
    if (p === '' || !fs.existsSync(p)) return false;
    const real = fs.realpathSync(p);
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  });
}

const pythonFor = new Map<string, string | undefined>();

/** The first python3 (python3Candidates) that can `import module`, or undefined if none can. */
export function python3With(module: string): string | undefined {
  if (!/^[A-Za-z_][\w.]*$/.test(module)) throw new Error(`not a python module name: ${module}`);
  if (!pythonFor.has(module)) {
    pythonFor.set(module, python3Candidates().find((p) => spawnSync(p, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 20_000 }).status === 0));
  }
  return pythonFor.get(module);
}

/** The skip note for a missing python module: what was tried and how to install it. */
export function python3Missing(module: string, pkg: string): string {
  return `no python3 that can import ${module} (tried ${python3Candidates().join(', ') || 'none found'}; apt-get install ${pkg})`;
}

/**
 * uvu has no per-test timeout: a test waiting on a peer that never answers
 * would hang the whole run (our socket server keeps the loop alive). This
 * fails the test instead after `ms`.
 */
export function timed<C>(fn: (ctx: C) => Promise<void>, ms = 45000): (ctx: C) => Promise<void> {
  return (ctx) => {
    let t: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((_, reject) => {
      t = setTimeout(() => reject(new Error(`test took longer than ${ms} ms`)), ms);
    });
    return Promise.race([fn(ctx), limit]).finally(() => clearTimeout(t));
  };
}
