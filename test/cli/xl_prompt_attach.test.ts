// `xenode xl` on a terminal: `xl create -c` and `xl console` attach to the
// guest's console (xenconsole) until the domain ends or Ctrl-].
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { typeTimed } from '../support/pty.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xenode-attach-'));
const xenode = ['--import', 'tsx', path.resolve('src/cli/main.ts')];
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const t = suite('the xl prompt on a terminal: attached consoles');

(hasScript ? t : t.skip)('a terminal: create -c streams the console until the domain ends; console attaches until Ctrl-]', async () => {
  const cfg = path.join(dir, 'att.cfg');
  writeFileSync(cfg, `name = "att"\nkernel = "${path.resolve('kernels/hello.ts')}"\nmemory = 32\non_poweroff = "preserve"\n`);
  const idle = path.join(dir, 'idle.cfg');
  writeFileSync(idle, 'name = "idle"\nmemory = 32\n');
  const cmd = [process.execPath, ...xenode, 'xl'].map((a) => `'${a}'`).join(' ');
  const r = await typeTimed(cmd, [
    // Ends by itself when hello.ts powers off (2.1 s of virtual time, as much wall time).
    [0, `create -c ${cfg}\r`],
    [0, `create ${idle}\r`],
    // A domain that never ends: only Ctrl-] gives the prompt back.
    [0, 'console idle\r'],
    [600, '\x1d', 'now'],
    [0, 'list | wc -l\r'],
    [0, 'exit\r'],
  ], { ...process.env, XENODE_HISTORY: path.join(dir, 'att-hist'), TERM: 'xterm' });
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /create -c [^\n]*\r*\n(Parsing config[^\n]*\r*\n)?Solo5: Xen console[\s\S]*Hello from xenode![\s\S]*Goodbye\.\r*\n[\s\S]*xl> [^\n]*create /, r.out);
  // Header, dom0, att (shut down, preserved) and idle: the session went on after Ctrl-].
  assert.match(r.out, /list \| wc -l\r*\n4\r*\n/, r.out);
});

t.run();
