// `xenode ps --scenario NAME [scenario options] [--stop-after STEP]`: dom0's
// processes (`ps ax`) at a step of a scenario (default: the xenwatch stall's
// `stuck-thread` step, where the stuck thread is in D).
import { dom0AtStep } from './dom0_at_step.ts';

export const help = `usage: xenode ps [--scenario NAME] [--stop-after STEP] [scenario options]

Prints dom0's processes (ps ax) at a step of a scenario; by default the
xenwatch stall's stuck-thread step, where the stuck thread is in D.

options:
  --scenario NAME      the scenario (default xenwatch-stall; see xenode scenario --help)
  --stop-after STEP    the step to stop after
  --seed N, --backend B, --xenwatch W, ...   the scenario's options
  -h, --help           this help
exit: 0 printed, 1 the host has no dom0 kernel, 2 bad command line

example:
  xenode ps --scenario xenwatch-stall --xenwatch mtwatch
`;

export function main(argv: string[]): Promise<number> {
  return dom0AtStep('ps', argv, help, ({ kernel, step, replay }) => {
    console.log(`# after step '${step}' of ${replay}`);
    process.stdout.write(kernel.psText());
    return 0;
  });
}
