// `xenode xenstored --socket PATH`: the daemon standalone on a unix socket,
// until SIGINT/SIGTERM. Clients find it through XENSTORED_PATH=PATH.
// `--daemon` goes to the background only once the socket accepts connections
// (as cxenstored forks after creating its sockets), so
// `xenode xenstored --socket P --daemon && xenstore-ls /` has no race.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Xenstored } from '../dom0/xenstored/xenstored.ts';
import { listenUnix } from '../dom0/xenstored/socket.ts';

export const help = `usage: xenode xenstored --socket PATH [--daemon] [--pid-file FILE] [--verbose]

Runs the xenstore daemon standalone on a unix socket until SIGINT/SIGTERM and
prints the socket's path once it accepts connections. Clients find it through
XENSTORED_PATH=PATH. A path a daemon already answers on is refused; a stale
socket (its daemon gone) is replaced.

options:
  --socket PATH        the unix socket to listen on (required)
  --daemon             go to the background once the socket is up; prints the daemon's pid
  --pid-file FILE      write the daemon's pid here (removed when it stops)
  --verbose            log every request on stderr
  -h, --help           this help
exit: 0 stopped by a signal (or, with --daemon, the daemon is up), 1 could not listen, 2 bad command line

example:
  xenode xenstored --socket /tmp/xs.sock --daemon --pid-file /tmp/xs.pid
`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        socket: { type: 'string' },
        daemon: { type: 'boolean', default: false },
        'pid-file': { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    console.error(`xenode xenstored: ${(e as Error).message}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (!values.socket) {
    console.error('xenode xenstored: --socket PATH is required (try: xenode xenstored --help)');
    return 2;
  }
  if (values.daemon) {
    // A detached daemon has no terminal to log to (cxenstored logs to a file).
    if (values.verbose) {
      console.error('xenode xenstored: --verbose logs to the terminal: run in the foreground for it (try: xenode xenstored --help)');
      return 2;
    }
    return background(argv.filter((a) => a !== '--daemon'));
  }
  // The handlers go in before the path is printed: whoever waits for that
  // line may signal at once, and until a handler exists SIGTERM's default
  // action kills the process with its socket file left behind.
  const stopped = new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve());
  });
  const daemon = new Xenstored({ log: values.verbose ? (m) => console.error(m) : undefined });
  let server;
  try {
    server = await listenUnix(daemon, values.socket);
  } catch (e) {
    console.error(`xenode xenstored: ${(e as Error).message}`);
    return 1;
  }
  const pidFile = values['pid-file'];
  if (pidFile) fs.writeFileSync(pidFile, `${process.pid}\n`);
  console.log(server.path);
  await stopped;
  await server.close();
  if (pidFile) fs.rmSync(pidFile, { force: true });
  return 0;
}

/**
 * The same command in a detached process; returns once it printed its socket
 * path (listening) or exited (could not listen: its error is shown).
 */
function background(args: string[]): Promise<number> {
  // process.argv[1] is the entry this process was started with (bin/xenode.mjs
  // or src/cli/main.ts), execArgv its loader flags (--import tsx).
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'xenstored', ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b));
    child.stdout.on('data', (b: Buffer) => {
      out += b;
      if (!out.includes('\n')) return;
      // Up: let it go (it prints nothing more: --verbose is refused with --daemon).
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      console.log(child.pid);
      resolve(0);
    });
    child.on('exit', (code) => {
      process.stderr.write(err);
      resolve(code === 0 ? 1 : (code ?? 1));
    });
  });
}

// Also runnable directly: node --import tsx src/cli/xenstored.ts --socket PATH
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
