// The one-token replay of a (shrunk) failing schedule: base64url of a JSON
// object with everything the run depends on, and the commit it was found on
// (a later commit may take other decisions; `xenode replay` says so).
//
//   xenode replay eyJ2IjoxLCJ0YXJnZXQiOiJrZXJuZWxzL3JpbmcudHMiLC4uLn0
import { execFileSync } from 'node:child_process';
import type { Deviation } from './control.ts';
import { STRATEGIES, type StrategyName } from './strategy.ts';
import { fnv1a, hex32 } from './target.ts';

export interface ReplayToken {
  v: 1;
  target: string;
  variant: string;
  workload: string;
  /** The strategy and seed that found it (the deviations are the schedule; kept for the record). */
  strategy: StrategyName;
  seed: number;
  load?: number;
  /** The shrunk schedule's deviations (control.ts: [label, who, occurrence, chosen]). */
  choices: Deviation[];
  /** The failure signature it reproduces. */
  signature: string;
  commit: string;
}

export function encodeToken(t: ReplayToken): string {
  return Buffer.from(JSON.stringify(t), 'utf8').toString('base64url');
}

export function decodeToken(s: string): ReplayToken {
  let t: Partial<ReplayToken>;
  try {
    t = JSON.parse(Buffer.from(s.trim(), 'base64url').toString('utf8')) as Partial<ReplayToken>;
  } catch {
    throw new Error('not a replay token (base64url JSON expected)');
  }
  const bad = (what: string) => new Error(`replay token: ${what}`);
  if (t.v !== 1) throw bad(`version ${String(t.v)}, expected 1`);
  for (const k of ['target', 'variant', 'workload', 'signature', 'commit'] as const) if (typeof t[k] !== 'string') throw bad(`${k} missing`);
  if (!STRATEGIES.includes(t.strategy as StrategyName)) throw bad(`strategy '${String(t.strategy)}'`);
  if (!Number.isSafeInteger(t.seed) || t.seed! < 0) throw bad('seed must be a non-negative integer');
  if (t.load !== undefined && !(typeof t.load === 'number' && t.load >= 0 && t.load <= 1)) throw bad('load must be in [0, 1]');
  const dev = (c: unknown) =>
    Array.isArray(c) && c.length === 4 && typeof c[0] === 'string' && typeof c[1] === 'string' && Number.isSafeInteger(c[2]) && (c[2] as number) >= 0 && typeof c[3] === 'string';
  if (!Array.isArray(t.choices) || !t.choices.every(dev)) throw bad('choices must be [label, who, occurrence, chosen] deviations');
  return t as ReplayToken;
}

/** The commit of the working tree, or 'unknown' outside a git checkout. */
export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** 8 hex digits naming a token (file names). */
export function fnv1aHex(s: string): string {
  return hex32(fnv1a(s));
}
