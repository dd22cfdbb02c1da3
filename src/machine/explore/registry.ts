// The targets `xenode explore NAME` knows. One entry per scenario:
//
//   name -> () => Target      (a factory: the CLI, each worker thread and the
//                              tests make their own; keep it cheap)
//
// Any NAME ending in `.ts` is a kernel file (targets/kernel.ts). To add a
// target, write a Target (target.ts; targets/missed_event.ts is one) and add
// one line here:
//
//   'my-scenario': () => ({
//     name: 'my-scenario', describe: '...',
//     variants: [...], buggy: [...],                   // first = default
//     workloads: [...],
//     async run({ seed, scheduler, variant, workload, load }) {
//       const m = new Machine({ seed, scheduler, ... });   // every scheduling decision from `scheduler`,
//       ...                                                // all other randomness from m.sim.stream(name)
//       return { ok, signature, summary, fingerprint };   // signature: class + ports + stack, no times
//     },
//   }),
import { existsSync } from 'node:fs';
import type { Target } from './target.ts';
import { kernelTarget } from './targets/kernel.ts';
import { missedEventTarget } from './targets/missed_event.ts';
import { dmStartupTarget, frontendHandoverTarget, xenwatchStallTarget } from './targets/scenarios.ts';

export const TARGETS: Record<string, () => Target> = {
  'missed-event': missedEventTarget,
  'xenwatch-stall': xenwatchStallTarget,
  'dm-startup': dmStartupTarget,
  'frontend-handover': frontendHandoverTarget,
};

export function findTarget(name: string): Target {
  const make = TARGETS[name];
  if (make) return make();
  if (name.endsWith('.ts')) {
    if (!existsSync(name)) throw new Error(`no kernel file '${name}'`);
    return kernelTarget(name);
  }
  throw new Error(`unknown target '${name}' (known: ${Object.keys(TARGETS).join(', ')}, or a kernel file such as kernels/ring.ts)`);
}
