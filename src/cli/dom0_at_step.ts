// The shared part of `xenode ps` and `xenode stack`: both look at dom0's
// kernel as it stands after one step of a scenario (by default the xenwatch
// stall's `stuck-thread` step, where the stuck thread sleeps in D).
import { playScenario, scenarioOptions } from './scenario.ts';
import { UsageError, runCommand } from './args.ts';
import type { Dom0Kernel } from '../dom0/kernel/kernel.ts';

export interface Dom0AtStep {
  /** The positionals left after the scenario's options. */
  rest: string[];
  kernel: Dom0Kernel;
  /** The step the scenario stopped after. */
  step: string | undefined;
  replay: string;
}

/**
 * Parses the scenario options, plays the scenario up to the step, and hands
 * dom0's kernel to `body`. `scenarioOf` picks the scenario from what was
 * parsed (`stack PID` has no `--scenario` and still means the xenwatch stall).
 */
export function dom0AtStep(
  cmd: string,
  argv: string[],
  help: string,
  body: (at: Dom0AtStep) => number,
  scenarioOf: (name: string | undefined, rest: string[]) => string = (name) => name ?? 'xenwatch-stall',
): Promise<number> {
  return runCommand(cmd, async () => {
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
    const name = scenarioOf(p.name, p.rest);
    if (!p.opts.stopAfter && name === 'xenwatch-stall') p.opts.stopAfter = 'stuck-thread';
    const r = await playScenario(name, p.opts);
    const kernel = r.host.kernel;
    if (!kernel) {
      console.error(`xenode ${cmd}: this host has no dom0 kernel`);
      return 1;
    }
    return body({ rest: p.rest, kernel, step: r.transcript.steps.at(-1)?.id, replay: r.replay });
  });
}
