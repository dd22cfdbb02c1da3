// The one source of nondeterminism in a run. Every decision the simulator or a
// fault point makes ("which ready thread runs next", "deliver the event before
// or after this instruction") is a call to choose(n). From a seed the answers
// come from a small PRNG (sfc32); from a supplied sequence they are read in
// order (missing entries are 0), which lets fast-check generate and shrink a
// schedule. Either way the list of answers is recorded so that a failing run
// can print the exact sequence that replays it.

export class Choices {
  readonly seed: number | undefined;
  private readonly sequence: readonly number[] | undefined;
  private index = 0;
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Answers given so far (only kept when `record` is true). */
  readonly log: number[] = [];

  private constructor(seed: number | undefined, sequence: readonly number[] | undefined, private readonly record: boolean) {
    this.seed = seed;
    this.sequence = sequence;
    // sfc32 state from the seed; a few warm-up rounds decorrelate close seeds.
    const s = (seed ?? 0) >>> 0;
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = s;
    for (let i = 0; i < 15; i++) this.next32();
  }

  static fromSeed(seed: number, record = false): Choices {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
    return new Choices(seed, undefined, record);
  }

  /**
   * A subsystem's own stream (toolstack ids, guest Math.random seeds, a
   * workload's pauses), derived from the run's seed and the stream's name, so
   * that a subsystem drawing more or fewer numbers never shifts the
   * scheduler's answers or another subsystem's (TigerBeetle's habit: one PRNG
   * per subsystem, all from the root seed).
   */
  static derive(seed: number, name: string): Choices {
    // FNV-1a over the name, mixed with the seed; sfc32's warm-up does the rest.
    let h = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    const s = ((h ^ Math.imul((seed >>> 0) ^ Math.floor(seed / 4294967296), 0x9e3779b1)) >>> 0);
    return new Choices(s, undefined, false);
  }

  /** Replay or shrink: answers come from `sequence` (each taken modulo n); past its end, 0. */
  static fromSequence(sequence: readonly number[], record = false): Choices {
    return new Choices(undefined, sequence, record);
  }

  /** An integer in [0, n). n must be >= 1. choose(1) consumes nothing. */
  choose(n: number): number {
    if (n <= 1) return 0;
    let v: number;
    if (this.sequence) {
      const raw = this.sequence[this.index++] ?? 0;
      v = Math.abs(Math.trunc(raw)) % n;
    } else {
      // Multiply-shift keeps it unbiased enough for scheduling and is cheap.
      v = Math.floor((this.next32() / 4294967296) * n);
    }
    if (this.record) this.log.push(v);
    return v;
  }

  /** True with probability 1/n (used for fault points and preemption). */
  oneIn(n: number): boolean {
    return this.choose(n) === 0;
  }

  /** A float in [0, 1), for seeding a guest's Math.random. */
  float(): number {
    return this.sequence ? this.choose(1 << 30) / (1 << 30) : this.next32() / 4294967296;
  }

  /** How to replay this run: "--seed N" or the recorded sequence. */
  describe(): string {
    return this.seed !== undefined ? `--seed ${this.seed}` : `--choices ${JSON.stringify(this.sequence)}`;
  }

  private next32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
}
