// `xenode xl …` (also `xenode dom0 …`): the toolstack and dom0's shell on a
// fresh emulated host.
//   xenode xl [--seed N] [--xenwatch single|mtwatch] [--legacy-dm] [--trace F] CMD [ARGS…] [; CMD …]
//   xenode xl "create a.cfg; xwstall hold vif1.0; sleep 1; destroy 1; list; ps"
//   xenode xl "create examples/ping.cfg; sleep 0.3; ping -c 3 10.0.0.2"   (dom0 is 10.0.0.1 on xenbr0)
// Several commands run on the same host, separated by `;` (a separate argument,
// or inside one quoted argument), and `| grep/head/wc` filter their output
// (src/machine/pipeline.ts). `sleep SECONDS` lets virtual time pass. Lines
// that are not xl commands go to dom0's shell (src/machine/shell.ts). With no
// command, commands are read from stdin, one per line: on a terminal with
// readline's line editing and a bounded history file (src/cli/xl_session.ts
// runs the lines).
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Machine } from '../machine/machine.ts';
import { parseLine } from '../machine/pipeline.ts';
import { XlSession, type LineResult } from './xl_session.ts';
import { LiveTime } from './xl_live.ts';
import { checkSocketPath, goLive, serveUntilSignal, untilSignal, type LiveHost } from './live.ts';

export const help = `usage: xenode xl [options] [CMD [ARGS...] [; CMD ...]]
       xenode dom0 [options] [CMD ...]

The toolstack and dom0's shell on a fresh emulated host. Several commands run
on the same host, separated by \`;\`; \`CMD | grep RE\`, \`| head -n N\` and \`| wc -l\`
filter a command's output. With no CMD, commands are read from stdin (a prompt
with line editing and history in ~/.xenode_history on a terminal); \`exit\` or
\`quit\` leaves, \`help\` lists the commands.
On a terminal \`create -c\` and \`console DOM\` attach to the guest's console
until the domain ends or Ctrl-] (elsewhere they print it).

xl commands: create [-c] [-p] [-q], destroy, list, shutdown, reboot, pause,
  unpause, network-attach|detach|list, block-attach|detach|list, vcpu-list,
  info [-n] [KEY], debug-keys (e g h q r), dmesg [-c], console
  (see \`help\` at the prompt)
dom0 commands: ps, cat /proc/PID/stack, ethtool -S, ifconfig, xwstall, blkdisk,
  blkgrant, xenstore-read|ls|write, dmesg, ping, ls|cat /var/log/xen/console/;
  \`sleep SECONDS\` lets virtual time pass

options:
  --seed N             the seed of every choice (default 1)
  --xenwatch W         dom0's xenwatch: single|mtwatch (default single)
  --legacy-dm          the legacy device-model path
  --trace FILE         write the Chrome trace of the session at the end
  --paused             at the prompt, virtual time stands still between commands
                       (by default it runs with the wall clock while you type,
                       and Xen's console ring is echoed as a serial console)
  --xenstore-socket P  serve this host's xenstored on the unix socket P (XENSTORED_PATH=P for
                       xenstore-ls/-write/-watch, pyxs) with virtual time running: with CMDs, once
                       they ran and until SIGINT/SIGTERM; at the prompt, while it runs
  -h, --help           this help
exit: the last command's exit code (1 if a command failed), 2 bad command line

example:
  xenode xl "create examples/ping.cfg; sleep 0.3; list"
`;

function usage(msg: string): number {
  console.error(`xenode xl: ${msg} (try: xenode xl --help)`);
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  const opts: { seed: number; xenwatch: 'single' | 'mtwatch'; legacy: boolean; trace?: string; paused: boolean; socket?: string } = { seed: 1, xenwatch: 'single', legacy: false, paused: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seed') {
      const v = argv[++i] ?? '';
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) return usage(`--seed must be a non-negative integer, got '${v}'`);
      opts.seed = Number(v);
    } else if (a === '--xenwatch') opts.xenwatch = argv[++i] as 'single' | 'mtwatch';
    else if (a === '--legacy-dm') opts.legacy = true;
    else if (a === '--paused') opts.paused = true;
    else if (a === '--trace') {
      if (argv[i + 1] === undefined) return usage('--trace needs a FILE');
      opts.trace = argv[++i]!;
    } else if (a === '--xenstore-socket') {
      if (argv[i + 1] === undefined) return usage('--xenstore-socket needs a PATH');
      opts.socket = argv[++i]!;
    } else if (a === '-h' || a === '--help') {
      process.stdout.write(help);
      return 0;
    } else if (a.startsWith('--')) return usage(`unknown option '${a}'`);
    else break;
  }
  if (opts.xenwatch !== 'single' && opts.xenwatch !== 'mtwatch') return usage('--xenwatch must be single or mtwatch');
  const busy = opts.socket === undefined ? undefined : await checkSocketPath(opts.socket);
  if (busy) {
    console.error(`xenode xl: --xenstore-socket: ${busy}`);
    return 1;
  }
  // Guest console output as xenconsoled reads it, for an attached console (the prompt sets the sink).
  const sink: { console?: (domid: number, text: string) => void } = {};
  const host = new Machine({
    seed: opts.seed, xenwatch: opts.xenwatch, legacyDmPath: opts.legacy, trace: opts.trace !== undefined, monitor: true,
    onConsole: (domid, text) => sink.console?.(domid, text),
  });
  const session = new XlSession(host, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
  const rest = argv.slice(i);
  let code = 0;
  const account = (r: LineResult) => {
    // A failed command anywhere fails the session (`xl "bogus; list"` is not a success).
    if (r.exit) code = r.code || code;
    else if (r.failed) code = r.code || 1;
  };
  if (rest.length > 0) {
    // One quoted argument may hold a whole `a; b | c` line; separate arguments are words (`;` and `|` alone are operators).
    const line = rest.length === 1 ? rest[0]! : rest.map((a) => (a === ';' || a === '|' ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
    let many = false;
    try {
      many = parseLine(line).length > 1;
    } catch {
      // the session reports the syntax error
    }
    account(await session.line(line, many));
    // A live host once the commands ran: the socket's appearance says they did.
    if (opts.socket !== undefined && (await serveUntilSignal('xl', host, opts.socket)) !== 0) code = 1;
  } else {
    // Commands from stdin: the host is live from the start; piped, also after the input ends, until a signal.
    let live: LiveHost | undefined;
    const stop = new AbortController();
    const sig = opts.socket === undefined ? undefined : untilSignal();
    if (sig) {
      try {
        // At the prompt, the prompt's clock (LiveTime) is the one that runs time: two pumps would interleave with commands.
        live = await goLive(host, opts.socket!, { clock: !process.stdin.isTTY, onHang: (h) => process.stderr.write(`xenode xl: (live) hang: ${h}\n`) });
      } catch (e) {
        sig.dispose();
        console.error(`xenode xl: --xenstore-socket: ${(e as Error).message}`);
        return 1;
      }
      // A signal ends the session as it would a shell's, the socket removed on the way out.
      void sig.stopped.then(() => stop.abort());
    }
    if (process.stdin.isTTY) await prompt(session, account, opts.paused, sink, stop.signal);
    else {
      const exited = await piped(session, account, stop.signal);
      if (live && !exited && !stop.signal.aborted) {
        process.stderr.write(`xenode xl: input ended; serving the host's xenstored on ${opts.socket} until SIGINT/SIGTERM\n`);
        await sig!.stopped;
      }
    }
    sig?.dispose();
    await live?.close();
  }
  if (opts.trace) writeFileSync(opts.trace, host.sim.trace.toJSON());
  return code;
}

/** Commands from a pipe, one per line; true when one of them was `exit` or `quit`. */
async function piped(session: XlSession, account: (r: LineResult) => void, signal: AbortSignal): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, terminal: false, signal });
  let exited = false;
  for await (const line of rl) {
    const r = await session.line(line, true);
    account(r);
    if ((exited = r.exit)) break;
  }
  rl.close();
  return exited;
}

/** Most lines kept in the history file (bash's HISTFILESIZE default is 500; a bit more here). */
export const HISTORY_MAX = 1000;

/** Where the prompt keeps its history: $XENODE_HISTORY, else ~/.xenode_history. */
export function historyPath(): string {
  return process.env['XENODE_HISTORY'] ?? path.join(os.homedir(), '.xenode_history');
}

/** The history file's lines, oldest first, at most HISTORY_MAX. */
export function loadHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').slice(-HISTORY_MAX);
  } catch {
    return [];
  }
}

/** A terminal: readline's line editing, the cursor keys and Up/Down through the history file. */
async function prompt(session: XlSession, account: (r: LineResult) => void, paused: boolean, sink: { console?: (domid: number, text: string) => void }, signal: AbortSignal): Promise<void> {
  const file = historyPath();
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    signal,
    // readline wants the newest entry first.
    history: loadHistory(file).reverse(),
    historySize: HISTORY_MAX,
    removeHistoryDuplicates: true,
    prompt: 'xl> ',
  });
  // Serial output arrives while the user types: clear the line, print, redraw the prompt and what was typed.
  let attached = false;
  const live = new LiveTime(session.host, {
    onHang: (h) => process.stderr.write(`\nxenode xl: hang: ${h}\n`),
    failed: (e) => process.stderr.write(`\nxenode xl: the emulated host failed while the prompt waited (time stands still from now on): ${(e as Error)?.message ?? String(e)}\n`),
    serial: (text, typing) => {
      if (!typing || attached) return void process.stdout.write(text);
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
      process.stdout.write(text);
      rl.prompt(true);
    },
  });
  if (!paused) {
    live.start();
    // xenconsole on the terminal: the console's output as it comes, until the domain ends or Ctrl-].
    session.io.attach = (domid, fromStart) => live.release(() => {
      attached = true;
      if (fromStart) process.stdout.write(session.host.console(domid) ?? '');
      return attachConsole(session.host, domid, sink).finally(() => {
        attached = false;
        // What was typed while attached is not a command.
        rl.write(null, { ctrl: true, name: 'u' });
      });
    });
  }
  rl.prompt();
  for await (const line of rl) {
    const r = await live.hold(() => session.line(line, false));
    account(r);
    if (r.exit) break;
    rl.prompt();
  }
  live.stop();
  const history = (rl as unknown as { history: string[] }).history;
  rl.close();
  try {
    writeFileSync(file, [...history].reverse().slice(-HISTORY_MAX).map((l) => l + '\n').join(''));
  } catch (e) {
    process.stderr.write(`xenode xl: cannot save history to ${file}: ${(e as Error).message}\n`);
  }
}

/** Ctrl-], xenconsole's escape character (tools/console/client/main.c: ESCAPE_CHARACTER 0x1d). */
const ESCAPE_CHARACTER = '\x1d';

/**
 * xenconsole attached to `domid` on this terminal: the guest's console
 * output is written as xenconsoled reads it, until the domain has shut down
 * or is gone, or the user presses Ctrl-]. The guests take no console input.
 */
function attachConsole(host: Machine, domid: number, sink: { console?: (domid: number, text: string) => void }): Promise<void> {
  return new Promise((resolve) => {
    const onKey = (s: string | undefined) => {
      if (s === ESCAPE_CHARACTER) finish();
    };
    const check = setInterval(() => {
      const d = host.hv.domain(domid);
      if (!d || d.dying || d.shutdownReason !== undefined) finish();
    }, 20);
    function finish(): void {
      clearInterval(check);
      process.stdin.off('keypress', onKey);
      sink.console = undefined;
      resolve();
    }
    sink.console = (id, text) => {
      if (id === domid) process.stdout.write(text);
    };
    process.stdin.on('keypress', onKey);
  });
}
