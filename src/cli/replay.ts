// `xenode replay TOKEN`: run the schedule a token encodes (xenode explore
// prints one per failure) and print its steps and outcome.
// Exit 1 when the run fails (the failure reproduced), 0 when it passes, 2 on a bad token.
import { replayToken } from '../machine/explore/replay.ts';
import { renderSteps } from '../machine/explore/shrink.ts';
import { decodeToken, gitCommit } from '../machine/explore/token.ts';

export async function main(argv: string[]): Promise<number> {
  try {
    const [tok, ...rest] = argv;
    if (!tok || rest.length > 0) throw new Error('usage: xenode replay TOKEN');
    const t = decodeToken(tok);
    const here = gitCommit();
    console.log(`replay ${t.target} variant ${t.variant} workload ${t.workload}: ${t.choices.length} deviation(s), found by ${t.strategy} at seed ${t.seed} on ${t.commit}`);
    if (here !== t.commit) console.log(`note: this is ${here}; a different commit may take other decisions`);
    const r = await replayToken(t);
    for (const l of renderSteps(r)) console.log(l);
    if (r.outcome.ok) {
      console.log(`passed: the failure '${t.signature}' did not reproduce`);
      return 0;
    }
    console.log(r.outcome.signature === t.signature ? `reproduced: ${r.outcome.signature}` : `failed differently: ${r.outcome.signature} (token: ${t.signature})`);
    return 1;
  } catch (e) {
    console.error(`xenode replay: ${(e as Error).message}`);
    return 2;
  }
}
