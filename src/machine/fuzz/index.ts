// `npm run fuzz` (scripts/fuzz.ts): the fuzz targets by name. Each is bounded
// by a frame count and a wall-clock time, deterministic from its seed, and
// stops at the first broken invariant with a replay line.
import { fuzzBlkif } from './blkif.ts';
import { fuzzHypercalls } from './hypercall.ts';
import { fuzzNetif } from './netif.ts';
import type { FuzzBudget, FuzzResult } from './types.ts';
import { fuzzXsRing, fuzzXsSocket } from './xenstored.ts';

export type { FuzzBudget, FuzzResult } from './types.ts';

export const FUZZ_TARGETS: Record<string, (seed: number, budget: FuzzBudget) => FuzzResult | Promise<FuzzResult>> = {
  'xs-ring': fuzzXsRing,
  'xs-socket': fuzzXsSocket,
  hypercall: fuzzHypercalls,
  netif: fuzzNetif,
  blkif: fuzzBlkif,
};

/** The command that replays a failed run: the same seed, the count up to the failing frame. */
export function replayLine(r: FuzzResult, seed: number): string {
  return `npm run fuzz -- --target ${r.target} --seed ${seed} --count ${r.frames} --seconds 3600`;
}
