// What a fuzz target is given and returns (`npm run fuzz`, src/machine/fuzz/).

export interface FuzzBudget {
  /** Frames (or calls) at most. */
  count: number;
  /** Wall-clock seconds at most. */
  seconds: number;
}

export interface FuzzResult {
  target: string;
  /** Frames (or calls) run. */
  frames: number;
  seconds: number;
  /** What was checked after each frame. */
  invariants: readonly string[];
  /** The first broken invariant, if any (the run stops there). */
  failure?: string;
  notes: string[];
}
