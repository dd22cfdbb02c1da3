// `xenode stack PID|NAME --scenario NAME [scenario options] [--stop-after STEP]`:
// /proc/PID/stack of a dom0 kernel thread at a step of a scenario (default:
// the xenwatch stall's `stuck-thread` step). NAME matches a thread's name,
// e.g. `xenode stack xenwatch --scenario xenwatch-stall`.
import { dom0AtStep } from './dom0_at_step.ts';
import { UsageError } from './args.ts';

export const help = `usage: xenode stack PID|NAME [--scenario NAME] [--stop-after STEP] [scenario options]

Prints /proc/PID/stack of a dom0 kernel thread at a step of a scenario (by
default the xenwatch stall's stuck-thread step). NAME matches a thread's name.

options:
  --scenario NAME      the scenario (default xenwatch-stall; see xenode scenario --help)
  --stop-after STEP    the step to stop after
  --seed N, --backend B, --xenwatch W, ...   the scenario's options
  -h, --help           this help
exit: 0 printed, 1 no such thread, 2 bad command line

example:
  xenode stack xenwatch --scenario xenwatch-stall
`;

export function main(argv: string[]): Promise<number> {
  // With --scenario, the first positional is the pid; without, `stack PID`
  // still means the xenwatch stall (and the parser took PID for its name).
  const withScenario = argv.includes('--scenario');
  let target: string | undefined;
  return dom0AtStep(
    'stack',
    argv,
    help,
    ({ kernel: k, step, replay }) => {
      if (!target) throw new UsageError('which thread? (xenode stack PID|NAME --scenario NAME)');
      const kt = /^\d+$/.test(target) ? k.kthreads.get(Number(target)) : k.kthreads.list().find((t) => t.fullName === target || t.comm === target);
      if (!kt) {
        console.error(`cat: /proc/${target}/stack: No such file or directory`);
        return 1;
      }
      console.log(`# cat /proc/${kt.pid}/stack   (${kt.comm}, state ${kt.state}; after step '${step}' of ${replay})`);
      process.stdout.write(k.stack(kt.pid) ?? '');
      return 0;
    },
    (name, rest) => {
      target = rest[0] ?? (withScenario ? undefined : name);
      if (!target) throw new UsageError('which thread? (xenode stack PID|NAME --scenario NAME)');
      return withScenario ? (name ?? 'xenwatch-stall') : 'xenwatch-stall';
    },
  );
}
