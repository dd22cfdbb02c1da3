// The one-page "ring" shared by kernels/ring.ts and its dom0 producer
// (peers.ts): u32 fields at fixed offsets in the kernel's first free frame.
import { LAYOUT } from './pvh.ts';

export const RING = { GPFN: LAYOUT.FIRST_FREE_GPFN, PROD: 0, CONS: 4, READY: 8, PORT: 12 } as const;
