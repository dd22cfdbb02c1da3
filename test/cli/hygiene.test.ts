// The `xenode` command as a user meets it: spawned as a process (the launcher's
// own path), exit codes 0 / 1 (failed) / 2 (bad command line), --version,
// per-command --help, and stderr that stays quiet when piped.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { capture } from '../capture.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function xenode(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const cli = suite('xenode: exit codes, --version, --help');

cli('--version prints package.json version', () => {
  const r = xenode('--version');
  assert.is(r.code, 0);
  assert.is(r.out, `xenode ${pkg.version}\n`);
});

cli('every command has a --help with its options and an example', async () => {
  for (const [cmd, option, file] of [['run', '--json', 'run'], ['sweep', '--seeds', 'sweep'], ['scenario', '--stop-after', 'scenario'], ['xl', '--xenwatch', 'xl'], ['ps', '--scenario', 'ps'], ['stack', '--scenario', 'stack'], ['debug-keys', '--variant', 'debug_keys'], ['xenstored', '--socket', 'xenstored']] as const) {
    const mod = (await import(`../../src/cli/${file}.ts`)) as { main(a: string[]): Promise<number> };
    const r = await capture(() => mod.main(['--help']));
    assert.is(r.code, 0, cmd);
    assert.match(r.out, new RegExp(`usage: xenode ${cmd}`), cmd);
    assert.match(r.out, option, cmd);
    assert.match(r.out, new RegExp(`example:\\n  xenode ${cmd} `), cmd);
  }
});

cli('argument errors exit 2 with one line on stderr', async () => {
  // Through the real process once (the launcher's exit code), the rest in-process.
  const p = xenode('sweep', 'dm-startup', '--seeds', '5..1');
  assert.is(p.code, 2);
  assert.is(p.out, '');
  assert.match(p.err, /^xenode sweep: bad --seeds '5\.\.1': empty range 5\.\.1/);
  for (const [file, ...args] of [['run', 'kernels/hello.ts', '--seed', 'x'], ['run', '--bogus'], ['run', 'no/such/kernel.ts'], ['debug_keys', 'e', 'nosuch.ts'], ['sweep', 'run', 'nosuch.ts', '--seeds', '1..2'], ['run'], ['scenario', 'dm-startup', '--stop-after', 'nope'], ['xl', '--seed', '-1', 'list'], ['xl', '--nope'], ['debug_keys'], ['stack', '--scenario', 'nosuch', '3'], ['ps', '--seed', 'z']]) {
    const mod = (await import(`../../src/cli/${file}.ts`)) as { main(a: string[]): Promise<number> };
    const r = await capture(() => mod.main(args));
    assert.is(r.code, 2, `${file} ${args.join(' ')}`);
    assert.is(r.out, '', `${file} ${args.join(' ')}`);
    assert.is(r.err.trim().split('\n').length, 1, `${file} ${args.join(' ')}: ${r.err}`);
  }
});

cli('bench --only with an unknown group lists the groups and exits 2', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/main.ts', '--only', 'nope'], { encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /no group 'nope' \(groups: hypervisor, guest, xenstored, dom0, net, explore, scale\)/);
  assert.is(r.stdout, '');
});

cli('run --json on a hanging build: exit 1, verdict, the e dump and the replay', async () => {
  const { main } = await import('../../src/cli/run.ts');
  const r = await capture(() => main(['kernels/ring.ts', '--variant', 'unmask=checks-mask', '--seed', '1', '--json', '--no-check']));
  const j = JSON.parse(r.out);
  assert.is(r.code, j.ok ? 0 : 1);
  assert.is(j.kernel, 'kernels/ring.ts');
  assert.is(j.variant, 'unmask=checks-mask');
  assert.type(j.virtual_s, 'number');
  assert.ok(Array.isArray(j.xen));
  assert.is(j.replay.startsWith('xenode run kernels/ring.ts --seed 1 --variant unmask=checks-mask'), true, j.replay);
  assert.is(j.reason, 'hang');
  assert.is(j.ok, false);
  assert.is(j.verdict.outcome, 'hang');
  assert.match(j.debug_keys, /Event channel information/);
});

cli('progress: one redrawn line with rate and ETA on a TTY, nothing off a TTY', async () => {
  const { Progress } = await import('../../src/cli/args.ts');
  let t = 0;
  const tty = { isTTY: true, text: '', write(s: string) { this.text += s; return true; } };
  const p = new Progress(4, tty as unknown as NodeJS.WriteStream, () => t);
  t = 2000;
  p.step(1, 'seed 1 ok');
  p.end();
  assert.is(tty.text, '\r\x1b[K[########......................] 1/4 0.5/s ETA 6s seed 1 ok\r\x1b[K');
  const pipe = { isTTY: false, text: '', write(s: string) { this.text += s; return true; } };
  const q = new Progress(4, pipe as unknown as NodeJS.WriteStream, () => t);
  q.step(1, 'seed 1 ok');
  q.end();
  assert.is(pipe.text, '');
});

cli.run();
