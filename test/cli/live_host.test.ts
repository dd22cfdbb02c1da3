// A live host for real tools: `xenode xl --xenstore-socket P` serves the
// emulated host's own xenstored while its virtual clock runs, and Debian's
// xenstore-utils (libxenstore, XENSTORED_PATH=P) inspect and change it: an
// external write reaches the guest's watch (kernels/xs.ts answers it), the
// guest's write fires an external xenstore-watch, the guest's idle timeout
// fires with no command typed (time runs), and SIGTERM removes the socket.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { needs, python3Missing, python3With, timed, which } from '../dom0/xenstored/kit.ts';
import { capture } from '../capture.ts';

const bin = path.resolve('bin/xenode.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenode-live-'));
const sock = path.join(dir, 'host.sock');
const t = suite('xenode xl --xenstore-socket: a live host');
const withUtils = needs(t, which('xenstore-write') && which('xenstore-watch') ? undefined : 'xenstore-utils (apt-get install xenstore-utils)');

function xs(cmd: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { env: { ...process.env, XENSTORED_PATH: sock }, timeout: 10_000 }, (e, out, err) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: String(out), err: String(err) }),
    ),
  );
}

function xsAt(socket: string, cmd: string, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { env: { ...process.env, XENSTORED_PATH: socket }, timeout: 10_000 }, (e, out) => resolve({ code: e ? 1 : 0, out: String(out) })),
  );
}

/** Resolves once `child` printed a line matching `re` on `stream`. */
function line(child: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, ms = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} on ${stream} in ${ms} ms: ${text}`)), ms);
    child[stream]!.on('data', (b: Buffer) => {
      text += b;
      if (re.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

const exited = (c: ChildProcess) => new Promise<number | string | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode ?? c.signalCode) : c.once('exit', (code, s) => r(code ?? s))));

withUtils('xenstore-ls, -write and -watch on the running host; time runs; SIGTERM stops it', timed(async () => {
  // The guest quits by itself after 1.5 s of virtual time without a command.
  fs.writeFileSync(path.join(dir, 'xs.cfg'), `name = "xs"\nkernel = "${path.resolve('kernels/xs.ts')}"\nmemory = 32\ncmdline = "idle=1500"\non_poweroff = "preserve"\n`);
  const host = spawn(process.execPath, [bin, 'xl', '--xenstore-socket', sock, 'create xs.cfg; sleep 0.05'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await line(host, 'stderr', /serving the host's xenstored on .*host\.sock/);
    const ls = await xs('xenstore-ls', '/local/domain/1');
    assert.is(ls.code, 0, ls.err);
    assert.match(ls.out, /^name = "xs"$/m);
    assert.match(ls.out, /^ status = "ready"$/m);
    // An external watch; the guest's reply fires it.
    const watch = spawn('xenstore-watch', ['-n', '2', '/local/domain/1/data/reply'], { env: { ...process.env, XENSTORED_PATH: sock } });
    const watched = exited(watch);
    const first = await line(watch, 'stdout', /\n/, 10_000);
    assert.is(first, '/local/domain/1/data/reply\n', 'the initial event');
    // An external write into the guest's watched path reaches the guest.
    assert.is((await xs('xenstore-write', '/local/domain/1/data/command', 'hi')).code, 0);
    assert.is(await watched, 0, 'the second event came: the guest wrote data/reply');
    assert.is((await xs('xenstore-read', '/local/domain/1/data/reply')).out, 'ack 1: hi\n');
    // Virtual time runs while the host serves: the guest's idle timer fires and it writes status = done.
    let status = '';
    for (let i = 0; i < 100 && status !== 'done\n'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await xs('xenstore-read', '/local/domain/1/data/status')).out;
    }
    assert.is(status, 'done\n');
  } finally {
    host.kill('SIGTERM');
  }
  assert.is(await exited(host), 0);
  assert.not.ok(fs.existsSync(sock), 'socket removed');
}));

withUtils('piped commands: the host is live from the start, and after the input ends until SIGTERM', timed(async () => {
  const sock2 = path.join(dir, 'piped.sock');
  const host = spawn(process.execPath, [bin, 'xl', '--xenstore-socket', sock2], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    host.stdin!.write('create xs.cfg\n');
    const socketUp = async () => {
      for (let i = 0; i < 200 && !fs.existsSync(sock2); i++) await new Promise((r) => setTimeout(r, 50));
    };
    await socketUp();
    const env = { ...process.env, XENSTORED_PATH: sock2 };
    const read = (p: string) => new Promise<string>((res) => execFile('xenstore-read', [p], { env }, (_e, out) => res(String(out))));
    let name = '';
    for (let i = 0; i < 100 && name !== 'xs\n'; i++) {
      name = await read('/local/domain/1/name');
      if (name !== 'xs\n') await new Promise((r) => setTimeout(r, 100));
    }
    assert.is(name, 'xs\n', 'the domain the piped command created');
    const notice = line(host, 'stderr', /input ended; serving/);
    host.stdin!.end();
    await notice;
    assert.is(await read('/local/domain/1/data/hello'), 'hello from xs\n');
  } finally {
    host.kill('SIGTERM');
  }
  assert.is(await exited(host), 0);
  assert.not.ok(fs.existsSync(sock2));
}));

withUtils('scenario --xenstore-socket: the host after the scenario, served until SIGTERM; the exit code is the scenario\'s', timed(async () => {
  const sock3 = path.join(dir, 'scenario.sock');
  const host = spawn(process.execPath, [bin, 'scenario', 'dm-startup', '--xenstore-socket', sock3], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await line(host, 'stderr', /serving the host's xenstored on .*scenario\.sock/);
    const ls = await new Promise<string>((res) => execFile('xenstore-ls', ['/local/domain/0'], { env: { ...process.env, XENSTORED_PATH: sock3 } }, (_e, out) => res(String(out))));
    assert.match(ls, /^name = "Domain-0"$/m);
  } finally {
    host.kill('SIGTERM');
  }
  assert.is(await exited(host), 0);
  assert.not.ok(fs.existsSync(sock3));
}));

const pyxsPython = python3With('pyxs');
const withPyxs = needs(t, !pyxsPython ? python3Missing('pyxs', 'python3-pyxs') : !which('xenstore-read') ? 'xenstore-utils (apt-get install xenstore-utils)' : undefined);

withPyxs('pyxs changes the live host: its write reaches the guest, the guest\'s reply fires its watch', timed(async () => {
  const sock4 = path.join(dir, 'pyxs.sock');
  const host = spawn(process.execPath, [bin, 'xl', '--xenstore-socket', sock4, 'create xs.cfg; sleep 0.05'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await line(host, 'stderr', /serving the host's xenstored/);
    const py = `import os
from pyxs import Client
with Client(unix_socket_path=os.environ["XENSTORED_PATH"]) as c:
    name = c[b"/local/domain/1/name"]
    with c.monitor() as m:
        m.watch(b"/local/domain/1/data/reply", b"tok")
        next(m.wait())
        c[b"/local/domain/1/data/command"] = b"from-pyxs"
        ev = next(m.wait())
    print(name.decode(), ev[0].decode(), c[b"/local/domain/1/data/reply"].decode())
`;
    const r = spawnSync(pyxsPython!, ['-c', py], { env: { ...process.env, XENSTORED_PATH: sock4 }, encoding: 'utf8', timeout: 20_000 });
    assert.is(r.stderr, '');
    assert.is(r.stdout, 'xs /local/domain/1/data/reply ack 1: from-pyxs\n');
  } finally {
    host.kill('SIGTERM');
  }
  assert.is(await exited(host), 0);
}));

const withTty = needs(t, which('xenstore-read') && spawnSync('script', ['--version']).status === 0 ? undefined : "util-linux's script and xenstore-utils");

withTty('at the prompt (a pseudo-terminal): served while the prompt waits; exit removes the socket', timed(async () => {
  const sock5 = path.join(dir, 'tty.sock');
  const p = spawn('script', ['-qec', `${process.execPath} ${bin} xl --xenstore-socket ${sock5}`, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, XENODE_HISTORY: path.join(dir, 'hist') },
  });
  await line(p, 'stdout', /xl> /);
  const r = await xsAt(sock5, 'xenstore-read', '/local/domain/0/name');
  assert.is(r.out, 'Domain-0\n');
  p.stdin!.write('exit\n');
  assert.is(await exited(p), 0);
  assert.not.ok(fs.existsSync(sock5));
}));

t('piped `exit` ends a live session at once (no wait for a signal), the socket removed', () => {
  const sock6 = path.join(dir, 'exit.sock');
  const r = spawnSync(process.execPath, [bin, 'xl', '--xenstore-socket', sock6], { input: 'list\nexit\n', encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /# exit\n$/);
  assert.not.ok(fs.existsSync(sock6));
});

t('a path in use is refused before anything runs (exit 1)', async () => {
  // In this process (the launcher passes the command's exit code on: launcher.test.ts), no process to start.
  const busy = path.join(dir, 'plain');
  fs.writeFileSync(busy, '');
  const { main } = await import('../../src/cli/xl.ts');
  const r = await capture(() => main(['--xenstore-socket', busy, 'list']));
  assert.is(r.code, 1);
  assert.is(r.out, '', 'no command ran');
  assert.match(r.err, /^xenode xl: --xenstore-socket: .*plain exists and is not a socket/);
});

t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
t.run();
