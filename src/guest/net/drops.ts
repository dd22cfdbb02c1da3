// Per-layer drop counters: every frame the stack refuses is counted under
// the reason it was refused (a codec's Malformed, or the layer's own rule),
// never thrown. Bounded: the keys are the finite set of reasons.
export type Drops = Record<string, number>;

export function drop(d: Drops, why: string): void {
  d[why] = (d[why] ?? 0) + 1;
}

export function totalDrops(d: Drops): number {
  let n = 0;
  for (const k in d) n += d[k]!;
  return n;
}

/** A clock for the stack's timers (ARP retries and ageing), in ns. */
export interface NetClock {
  now(): number;
  after(ns: number, fn: () => void): unknown;
  cancel(t: unknown): void;
}
