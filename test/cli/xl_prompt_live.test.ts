// `xenode xl` on a terminal (util-linux's `script` gives it a pseudo-terminal):
// virtual time runs with the wall clock while the prompt waits, and Xen's
// console ring is echoed as a serial console; `--paused` freezes time.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { typeTimed, type Step } from '../support/pty.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xenode-live-'));
const xenode = ['--import', 'tsx', path.resolve('src/cli/main.ts')];
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const t = suite('the xl prompt on a terminal: live time');

(hasScript ? t : t.skip)('a terminal: virtual time runs while the prompt waits (the guest prints by itself), Xen\'s console is echoed; --paused freezes it', async () => {
  const cfg = path.join(dir, 'live.cfg');
  writeFileSync(cfg, `name = "live"\nkernel = "${path.resolve('kernels/hello.ts')}"\nmemory = 32\non_poweroff = "preserve"\n`);
  const steps = (wait: number): Step[] => [[0, `create ${cfg}\r`], [wait, 'console live\r'], [0, 'exit\r']];
  const run = (extra: string[], wait: number) => typeTimed([process.execPath, ...xenode, 'xl', ...extra].map((a) => `'${a}'`).join(' '), steps(wait),
    { ...process.env, XENODE_HISTORY: path.join(dir, `hist${extra.join('')}`), TERM: 'xterm' });
  // hello.ts powers off 2.1 s (virtual) after boot.
  // Both sessions at once (each waits on the wall clock, not the CPU).
  const [live, frozen] = await Promise.all([run([], 2400), run(['--paused'], 1000)]);
  assert.is(live.code, 0, live.out);
  // The guest booted and powered off in the 2.4 s the user waited: no `sleep` needed.
  assert.match(live.out, /Hello from xenode![\s\S]*Goodbye\./, live.out);
  // Its shutdown is a Xen console line, echoed as a serial console shows it.
  assert.match(live.out, /\(XEN\) d1: shutdown: poweroff/, live.out);
  // Frozen, even a second is enough to see that nothing ran: the banner is the guest's first output.
  assert.is(frozen.code, 0, frozen.out);
  assert.not.match(frozen.out, /Hello from xenode!|\(XEN\)/, frozen.out);
});

t.run();
