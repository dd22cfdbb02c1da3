// The reference peers of the differential tests and the xenstored benchmark:
// Xen 4.17's own cxenstored and oxenstored, run without a hypervisor as
// scripts/setup-peers.sh prepared them (unpacked under $XENODE_PEERS_DIR,
// scripts/peers/fakexen.c preloaded). Test and bench code only; the daemon
// never imports this.
//
// A daemon gets its own folder: socket, fakexen/ (the event-channel FIFO and
// the guests' ring files, see fakexen.c), daemon.log, and for oxenstored its
// generated config, pid file and logs.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Where setup-peers.sh keeps its cache: $XENODE_PEERS_DIR, else $XDG_CACHE_HOME (or ~/.cache)/xenode-peers. */
export function peersDir(): string {
  return process.env.XENODE_PEERS_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'xenode-peers');
}

/** Variables of the env file setup-peers.sh writes (XS_ROOT, XS_LIBDIR, XS_XENBIN, XS_STUB), undefined before it has run. */
export function kitEnv(): Record<string, string> | undefined {
  const f = path.join(peersDir(), 'env');
  if (!fs.existsSync(f)) return undefined;
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env.XS_XENBIN && env.XS_STUB && env.XS_LIBDIR ? env : undefined;
}

export interface RefDaemon {
  kind: 'cxenstored' | 'oxenstored';
  /** the daemon's folder (fakexen/ is inside) */
  dir: string;
  socket: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 5 s (oxenstored's TERM only sets a flag its loop may see 15 s later); removes `dir`. */
  stop(): Promise<void>;
}

/** Answers once the daemon replies to XS_DIRECTORY "/" on `socket`. */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    const frame = Buffer.alloc(18);
    frame.writeUInt32LE(1, 0); // XS_DIRECTORY
    frame.writeUInt32LE(2, 12);
    frame.write('/\0', 16);
    s.once('connect', () => s.write(frame));
    s.once('data', () => done(true));
    s.once('error', () => done(false));
    setTimeout(() => done(false), 1000).unref();
  });
}

/**
 * Starts a reference daemon in a fresh temp folder and resolves once it
 * answers on its socket, or resolves a string saying why it cannot (peers not
 * set up, oxenstored without root, start-up failure).
 */
export async function startRef(kind: 'cxenstored' | 'oxenstored', args: string[] = []): Promise<RefDaemon | string> {
  const env = kitEnv();
  if (!env) return `reference daemons not set up (run scripts/setup-peers.sh; looked in ${peersDir()})`;
  if (kind === 'oxenstored' && process.getuid?.() !== 0) return 'oxenstored needs root (a private mount namespace for its fixed socket path)';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xsref-'));
  const socket = path.join(dir, 'socket');
  const fx = path.join(dir, 'fakexen');
  fs.mkdirSync(fx);
  const denv: NodeJS.ProcessEnv = { ...process.env, LD_LIBRARY_PATH: env.XS_LIBDIR, LD_PRELOAD: env.XS_STUB, FAKEXEN_DIR: fx };
  // A client's XENSTORED_PATH in our environment must not move the daemon's socket.
  delete denv.XENSTORED_PATH;
  let child: ChildProcess;
  const log = fs.openSync(path.join(dir, 'daemon.log'), 'a');
  if (kind === 'cxenstored') {
    // -N: no fork; the socket is $XENSTORED_RUNDIR/socket.
    child = spawn(path.join(env.XS_XENBIN!, 'xenstored'), ['-N', ...args], { env: { ...denv, XENSTORED_RUNDIR: dir }, stdio: ['ignore', log, log] });
  } else {
    // oxenstored's socket is compiled in (/var/run/xenstored/socket): it runs
    // in a private mount namespace where `dir` is bound on that folder. Its
    // config is Debian's with the pid and log files moved into `dir`.
    const conf = fs
      .readFileSync(path.join(env.XS_ROOT!, 'etc/xen/oxenstored.conf'), 'utf8')
      .replace(/^[# ]*pid-file *=.*$/m, `pid-file = ${dir}/oxenstored.pid`)
      .replace(/^[# ]*xenstored-log-file *=.*$/m, `xenstored-log-file = ${dir}/xenstored.log`)
      .replace(/^[# ]*access-log-file *=.*$/m, `access-log-file = ${dir}/xenstored-access.log`);
    fs.writeFileSync(path.join(dir, 'oxenstored.conf'), conf);
    const mnt = path.join(fs.realpathSync('/var/run'), 'xenstored');
    fs.mkdirSync(mnt, { recursive: true });
    const inner = 'mount --bind "$1" "$2" || exit 1; shift 2; exec "$@"';
    child = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', inner, 'sh', dir, mnt,
      path.join(env.XS_XENBIN!, 'oxenstored'), '--no-fork', '--config-file', path.join(dir, 'oxenstored.conf'), ...args], { env: denv, stdio: ['ignore', log, log] });
  }
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const why = fs.readFileSync(path.join(dir, 'daemon.log'), 'utf8').slice(-800);
      await stop();
      return `${kind} exited during start-up: ${why}`;
    }
    if (fs.existsSync(socket) && (await answers(socket))) return { kind, dir, socket, pid: child.pid!, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  return `${kind} did not answer on ${socket} within 15 s`;
}
