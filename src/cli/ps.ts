// `xenode ps --scenario NAME [scenario options] [--stop-after STEP]`: dom0's
// processes (`ps ax`) at a step of a scenario (default: the xenwatch stall's
// `stuck-thread` step, where the stuck thread is in D).
import { playScenario, scenarioOptions } from './scenario.ts';
import { UsageError, runCommand } from './args.ts';

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

export async function main(argv: string[]): Promise<number> {
  return runCommand('ps', async () => {
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
    const name = p.name ?? 'xenwatch-stall';
    if (!p.opts.stopAfter && name === 'xenwatch-stall') p.opts.stopAfter = 'stuck-thread';
    const r = await playScenario(name, p.opts);
    const k = r.host.kernel;
    if (!k) {
      console.error('xenode ps: this host has no dom0 kernel');
      return 1;
    }
    console.log(`# after step '${r.transcript.steps.at(-1)?.id}' of ${r.replay}`);
    process.stdout.write(k.psText());
    return 0;
  });
}
