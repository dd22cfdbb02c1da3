// `xenode xl` as a prompt: commands on stdin (piped, and through a
// pseudo-terminal with util-linux's `script` when it is installed).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { capture } from '../capture.ts';
import { main as xlMain, loadHistory, HISTORY_MAX } from '../../src/cli/xl.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xenode-prompt-'));
const xenode = ['--import', 'tsx', path.resolve('src/cli/main.ts')];

function prompt(input: string, args: string[] = []) {
  const r = spawnSync(process.execPath, [...xenode, 'xl', ...args], { input, encoding: 'utf8', timeout: 60_000, env: { ...process.env, XENODE_HISTORY: path.join(dir, 'hist') } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const t = suite('the xl prompt');

t('piped stdin: exit leaves, errors do not end the session, pipes and sequences work', () => {
  writeFileSync(path.join(dir, 'nokernel.cfg'), 'name = "a"\nkernel = "no/such/kernel.ts"\nmemory = 64\n');
  const r = prompt([
    'sleep abc',
    'sleep -5',
    `create ${path.join(dir, 'nokernel.cfg')}`,
    'create /no/such.cfg',
    'ps ax | grep xen',
    'list | wc -l; list | head -n 1',
    'help | grep -c "^ ps \\|^ create "',
    'exit',
    'list',
  ].join('\n') + '\n');
  assert.is(r.code, 1, 'a command failed');
  assert.is(r.err.split('\n').filter(Boolean).length, 4, r.err);
  assert.match(r.err, /^sleep: invalid time interval 'abc'\nsleep: invalid time interval '-5'\ncreate: Could not resolve "[^"]*no\/such\/kernel.ts"\nFailed to read config file: \/no\/such.cfg/);
  assert.not.match(r.err, /\n\s+at /, 'no stack trace');
  assert.match(r.out, /# ps ax \| grep xen\n   38 S    \[xenbus\]\n   39 [RS]    \[xenwatch\]\n# list \| wc -l\n2\n# list \| head -n 1\nName\s+ID\s+Mem VCPUs\tState\tTime\(s\)\n/);
  assert.not.match(r.out, /PID STAT COMMAND/);
  assert.match(r.out, /# help \| grep -c .*\n2\n# exit\n$/, 'nothing runs after exit');
});

t('quit leaves too; a clean session exits 0', () => {
  const r = prompt('list\nquit\n');
  assert.is(r.code, 0);
  assert.match(r.out, /# quit\n$/);
});

t('one argument line: `bogus; list` runs both and fails', async () => {
  const r = await capture(() => xlMain(['bogus; list']));
  assert.is(r.code, 1);
  assert.match(r.err, /command not implemented: bogus/);
  assert.match(r.out, /# list\nName/);
  const ok = await capture(() => xlMain(['list', '|', 'grep', 'Domain-0']));
  assert.is(ok.code, 0);
  assert.match(ok.out, /^Domain-0\s+0\s/);
});

t('history file: bounded, oldest dropped', () => {
  const f = path.join(dir, 'big');
  writeFileSync(f, Array.from({ length: HISTORY_MAX + 50 }, (_, i) => `cmd ${i}`).join('\n') + '\n');
  const h = loadHistory(f);
  assert.is(h.length, HISTORY_MAX);
  assert.is(h[0], 'cmd 50');
  assert.equal(loadHistory(path.join(dir, 'missing')), []);
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
/** Sends each input after the prompt has been printed once more (a person typing), resolves with the transcript. */
function typeAtPrompt(cmd: string, inputs: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('script', ['-qec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let sent = 0;
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error(`no prompt after ${sent} inputs:\n${out}`));
    }, 30_000);
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const prompts = out.split('xl> ').length - 1;
      while (sent < inputs.length && sent < prompts) p.stdin.write(inputs[sent++]!);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

(hasScript ? t : t.skip)('a terminal: readline prompt, Up arrow recalls the last line, history saved', async () => {
  const hist = path.join(dir, 'tty-hist');
  const cmd = [process.execPath, ...xenode, 'xl'].map((a) => `'${a}'`).join(' ');
  // Up arrow then Enter re-runs `list`; the escape sequence must not reach the command.
  const r = await typeAtPrompt(cmd, ['list\r', '\x1b[A\r', 'exit\r'], { ...process.env, XENODE_HISTORY: hist, TERM: 'xterm' });
  assert.is(r.code, 0, r.out);
  assert.is((r.out.match(/Domain-0\s+0\s/g) ?? []).length, 2, r.out);
  assert.not.match(r.out, /command not implemented|\^\[\[A/);
  assert.equal(readFileSync(hist, 'utf8').split('\n').filter(Boolean), ['list', 'exit']);
});

t.run();
