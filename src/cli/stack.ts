// `xenode stack PID|NAME --scenario NAME [scenario options] [--stop-after STEP]`:
// /proc/PID/stack of a dom0 kernel thread at a step of a scenario (default:
// the xenwatch stall's `stuck-thread` step). NAME matches a thread's name,
// e.g. `xenode stack xenwatch --scenario xenwatch-stall`.
import { playScenario, scenarioOptions } from './scenario.ts';

export async function main(argv: string[]): Promise<number> {
  try {
    const p = scenarioOptions(argv);
    // With --scenario, the first positional is the pid; without, `stack PID` still defaults the scenario.
    const target = p.rest[0] ?? (argv.includes('--scenario') ? undefined : p.name);
    const name = argv.includes('--scenario') ? p.name : 'xenwatch-stall';
    if (!target) {
      console.error('usage: xenode stack PID|NAME --scenario NAME [scenario options] [--stop-after STEP]');
      return 2;
    }
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
  } catch (e) {
    console.error(`xenode stack: ${(e as Error).message}`);
    return 2;
  }
}
