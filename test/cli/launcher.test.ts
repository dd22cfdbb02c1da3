// bin/xenode.mjs as a process supervisor sees it: one process (the CLI runs
// in-process), so a signal reaches the command and the exit code is the
// command's; `xenode xenstored` refuses a socket path a daemon answers on,
// replaces a stale one, and `--daemon` returns only once the socket is up.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const bin = path.resolve('bin/xenode.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenode-launcher-'));
const t = suite('bin/xenode.mjs: signals, exit codes, the socket path');

/** Starts `xenode xenstored --socket P` and resolves once it printed the path (listening). */
function daemon(sock: string): Promise<{ child: ChildProcess; out: string }> {
  const child = spawn(process.execPath, [bin, 'xenstored', '--socket', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('xenstored did not come up in 20 s')), 20_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve({ child, out });
      }
    });
    child.on('exit', (c) => reject(new Error(`xenstored exited early (${c})`)));
  });
}

const exited = (c: ChildProcess) => new Promise<number | string | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode ?? c.signalCode) : c.once("exit", (code, sig) => r(code ?? sig))));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t('SIGTERM to the launcher stops the daemon: the process is gone, the socket removed', async () => {
  const sock = path.join(dir, 'term.sock');
  const { child, out } = await daemon(sock);
  assert.is(out, `${sock}\n`);
  assert.ok(fs.statSync(sock).isSocket());
  child.kill('SIGTERM');
  assert.is(await exited(child), 0, 'the command handled the signal and returned 0');
  assert.not.ok(alive(child.pid!), 'no process left behind');
  assert.not.ok(fs.existsSync(sock), 'socket removed');
});

t("the command's exit code is the launcher's", () => {
  assert.is(spawnSync(process.execPath, [bin, 'run', 'no/such.ts'], { encoding: 'utf8' }).status, 2);
  assert.is(spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).status, 0);
});

t('a second xenstored on a live path refuses (exit 1) and leaves the first one serving', async () => {
  const sock = path.join(dir, 'busy.sock');
  const { child } = await daemon(sock);
  const second = spawnSync(process.execPath, [bin, 'xenstored', '--socket', sock], { encoding: 'utf8', timeout: 20_000 });
  assert.is(second.status, 1);
  assert.match(second.stderr, /^xenode xenstored: .*busy\.sock is in use: a daemon answers on it/);
  // The first one still answers on its path.
  await new Promise<void>((resolve, reject) => net.connect(sock).once('connect', function (this: net.Socket) { this.destroy(); resolve(); }).once('error', reject));
  child.kill('SIGINT');
  assert.is(await exited(child), 0);
});

t('a stale socket (its daemon killed -9) is replaced; a file that is not a socket is refused', async () => {
  const sock = path.join(dir, 'stale.sock');
  const first = await daemon(sock);
  first.child.kill('SIGKILL');
  await exited(first.child);
  assert.ok(fs.statSync(sock).isSocket(), 'the killed daemon left its socket');
  const { child } = await daemon(sock);
  child.kill('SIGTERM');
  assert.is(await exited(child), 0);
  const file = path.join(dir, 'plain');
  fs.writeFileSync(file, 'keep me');
  const r = spawnSync(process.execPath, [bin, 'xenstored', '--socket', file], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 1);
  assert.match(r.stderr, /exists and is not a socket/);
  assert.is(fs.readFileSync(file, 'utf8'), 'keep me');
});

t('--daemon returns once the socket accepts connections, with the pid; SIGTERM stops it', async () => {
  const sock = path.join(dir, 'bg.sock');
  const pidFile = path.join(dir, 'bg.pid');
  const r = spawnSync(process.execPath, [bin, 'xenstored', '--socket', sock, '--daemon', '--pid-file', pidFile], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, r.stderr);
  const pid = Number(r.stdout.trim());
  assert.is(Number(fs.readFileSync(pidFile, 'utf8')), pid);
  // No wait loop: the socket is there when --daemon returns.
  await new Promise<void>((resolve, reject) => net.connect(sock).once('connect', function (this: net.Socket) { this.destroy(); resolve(); }).once('error', reject));
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((res) => setTimeout(res, 50));
  assert.not.ok(alive(pid));
  assert.not.ok(fs.existsSync(sock));
  assert.not.ok(fs.existsSync(pidFile));
});

t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
t.run();
