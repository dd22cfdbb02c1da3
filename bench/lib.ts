// Shared shape of benchmark results. Every bench/<area>.ts exports
//   export async function run(opts: BenchOptions): Promise<BenchRow[]>
// and bench/main.ts prints them all as one table (or JSON with --json).
export interface BenchOptions {
  /** Smaller sizes, for a quick look (`npm run bench -- --quick`). */
  quick: boolean;
  /** The largest sizes (`npm run bench -- --full`: the scale group's 10,000 domains). */
  full?: boolean;
}

export interface BenchRow {
  /** Area, e.g. "hypervisor", "guest", "xenstored", "dom0". */
  group: string;
  /** What was measured, e.g. "interdomain ping-pong". */
  name: string;
  value: number;
  unit: string;
  /** What the figure is compared with, e.g. "bare bitmap loop" or "cxenstored". */
  anchor?: string;
  anchorValue?: number;
  /** value / anchorValue (or the reverse for latencies; say so in note). */
  ratio?: number;
  /** Target from the issue, e.g. ">= 1,000,000 /s". */
  target?: string;
  note?: string;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
