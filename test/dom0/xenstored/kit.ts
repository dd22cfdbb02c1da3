// The peers of the interop and differential tests (real clients and Xen's own
// daemons, set up by scripts/setup-peers.sh) and how a test that needs one is
// registered: run when the peer is there, uvu's skip (counted in npm test's
// "N skipped") when it is not, and a failure under CI=true, where .ci/run
// has installed every peer.
import { spawnSync } from 'node:child_process';
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
