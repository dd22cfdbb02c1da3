// `xenode stack PID|NAME --scenario NAME [scenario options] [--stop-after STEP]`:
// /proc/PID/stack of a dom0 kernel thread at a step of a scenario (default:
// the xenwatch stall's `stuck-thread` step). NAME matches a thread's name,
// e.g. `xenode stack xenwatch --scenario xenwatch-stall`.
import { playScenario, scenarioOptions } from './scenario.ts';
import { UsageError, runCommand } from './args.ts';

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

export async function main(argv: string[]): Promise<number> {
  return runCommand('stack', async () => {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(help);
      return 0;
    }
    let p;
    try {
      p = scenarioOptions(argv);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    // With --scenario, the first positional is the pid; without, `stack PID` still defaults the scenario.
    const target = p.rest[0] ?? (argv.includes('--scenario') ? undefined : p.name);
    const name = argv.includes('--scenario') ? p.name : 'xenwatch-stall';
    if (!target) throw new UsageError('which thread? (xenode stack PID|NAME --scenario NAME)');
    if (!p.opts.stopAfter && name === 'xenwatch-stall') p.opts.stopAfter = 'stuck-thread';
    const r = await playScenario(name, p.opts);
    const k = r.host.kernel;
    if (!k) {
      console.error('xenode stack: this host has no dom0 kernel');
      return 1;
    }
    const kt = /^\d+$/.test(target) ? k.kthreads.get(Number(target)) : k.kthreads.list().find((t) => t.fullName === target || t.comm === target);
    if (!kt) {
      console.error(`cat: /proc/${target}/stack: No such file or directory`);
      return 1;
    }
    console.log(`# cat /proc/${kt.pid}/stack   (${kt.comm}, state ${kt.state}; after step '${r.transcript.steps.at(-1)?.id}' of ${r.replay})`);
    process.stdout.write(k.stack(kt.pid) ?? '');
    return 0;
  });
}
