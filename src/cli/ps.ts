// `xenode ps --scenario NAME [scenario options] [--stop-after STEP]`: dom0's
// processes (`ps ax`) at a step of a scenario (default: the xenwatch stall's
// `stuck-thread` step, where the stuck thread is in D).
import { playScenario, scenarioOptions } from './scenario.ts';

export async function main(argv: string[]): Promise<number> {
  try {
    const p = scenarioOptions(argv);
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
  } catch (e) {
    console.error(`xenode ps: ${(e as Error).message}`);
    return 2;
  }
}
