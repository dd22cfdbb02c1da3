// Finds the reference-daemon kit (shared/anchors/xenstored) and its env file,
// and starts/stops a real cxenstored/oxenstored in a temp dir.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kitDir, kitEnv } from '../../support/anchor_kit.ts';

export { kitDir, kitEnv };

export interface RefDaemon {
  dir: string;
  socket: string;
  stop(): void;
}

/** Starts a reference daemon with the kit (undefined + reason if impossible). */
export function startRef(kind: 'cxenstored' | 'oxenstored', args: string[] = []): RefDaemon | string {
  const kit = kitDir();
  if (!kit) return 'anchor kit not found (set XENODE_ANCHOR_KIT)';
  if (!kitEnv()) return 'anchor kit not set up (run its setup.sh)';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xsref-'));
  const r = spawnSync('bash', [path.join(kit, 'run.sh'), kind, dir, ...args], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) return `run.sh ${kind} failed: ${r.stdout}${r.stderr}`;
  return {
    dir,
    socket: path.join(dir, 'socket'),
    stop: () => {
      try {
        execFileSync('bash', [path.join(kit, 'stop.sh'), dir], { stdio: 'ignore', timeout: 20000 });
      } catch {
        // best effort
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Skip (with a reason) on a developer machine; under CI=true a missing tool is a failure. */
export function missing(what: string): string | undefined {
  if (process.env.CI === 'true') throw new Error(`required in CI but missing: ${what}`);
  console.log(`  skipping: ${what}`);
  return undefined;
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
