// `xenode xl …` (also `xenode dom0 …`): the toolstack and dom0's shell on a
// fresh emulated host.
//   xenode xl [--seed N] [--xenwatch single|mtwatch] [--legacy-dm] [--trace F] CMD [ARGS…] [; CMD …]
//   xenode xl "create a.cfg; xwstall hold vif1.0; sleep 1; destroy 1; list; ps"
//   xenode xl "create examples/ping.cfg; sleep 0.3; ping -c 3 10.0.0.2"   (dom0 is 10.0.0.1 on xenbr0)
// Several commands run on the same host, separated by `;` (a separate argument,
// or inside one quoted argument). `sleep SECONDS` lets virtual time pass. Lines
// that are not xl commands go to dom0's shell (src/dom0/shell.ts: ps,
// cat /proc/PID/stack, ethtool -S, ifconfig, xwstall, blkdisk, blkgrant,
// xenstore-read/ls/write, dmesg, ping). With no command, commands are read from
// stdin, one per line (a tiny shell).
import { writeFileSync } from 'node:fs';
import readline from 'node:readline';
import { Machine, splitArgs } from '../machine/machine.ts';
import { dom0Command } from '../machine/shell.ts';

export const help = `usage: xenode xl [options] [CMD [ARGS...] [; CMD ...]]
       xenode dom0 [options] [CMD ...]

The toolstack and dom0's shell on a fresh emulated host. Several commands run
on the same host, separated by \`;\`; \`CMD | grep RE\`, \`| head -n N\` and \`| wc -l\`
filter a command's output. With no CMD, commands are read from stdin (a prompt
with line editing and history in ~/.xenode_history on a terminal); \`exit\` or
\`quit\` leaves, \`help\` lists the commands.

xl commands: create, destroy, list, network-attach|detach, block-attach|detach,
  debug-keys, dmesg, console (see \`help\` at the prompt)
dom0 commands: ps, cat /proc/PID/stack, ethtool -S, ifconfig, xwstall, blkdisk,
  blkgrant, xenstore-read|ls|write, dmesg, ping; \`sleep SECONDS\` lets virtual time pass

options:
  --seed N             the seed of every choice (default 1)
  --xenwatch W         dom0's xenwatch: single|mtwatch (default single)
  --legacy-dm          the legacy device-model path
  --trace FILE         write the Chrome trace of the session at the end
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
  const opts: { seed: number; xenwatch: 'single' | 'mtwatch'; legacy: boolean; trace?: string } = { seed: 1, xenwatch: 'single', legacy: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seed') {
      const v = argv[++i] ?? '';
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) return usage(`--seed must be a non-negative integer, got '${v}'`);
      opts.seed = Number(v);
    } else if (a === '--xenwatch') opts.xenwatch = argv[++i] as 'single' | 'mtwatch';
    else if (a === '--legacy-dm') opts.legacy = true;
    else if (a === '--trace') {
      if (argv[i + 1] === undefined) return usage('--trace needs a FILE');
      opts.trace = argv[++i]!;
    } else if (a === '-h' || a === '--help') {
      process.stdout.write(help);
      return 0;
    } else if (a.startsWith('--')) return usage(`unknown option '${a}'`);
    else break;
  }
  if (opts.xenwatch !== 'single' && opts.xenwatch !== 'mtwatch') return usage('--xenwatch must be single or mtwatch');
  const host = new Machine({ seed: opts.seed, xenwatch: opts.xenwatch, legacyDmPath: opts.legacy, trace: opts.trace !== undefined, monitor: true });
  const rest = argv.slice(i);
  let code = 0;
  const one = async (args: string[], echo: boolean): Promise<void> => {
    if (args.length === 0) return;
    if (echo) process.stdout.write(`# ${args.join(' ')}\n`);
    if (args[0] === 'sleep') {
      host.sim.run({ until: host.sim.now + Number(args[1] ?? 1) * 1e9 });
      return;
    }
    const r = dom0Command(host, args) ?? (await host.xl(args[0] === 'xl' ? args.slice(1) : args));
    process.stderr.write(r.stderr);
    process.stdout.write(r.stdout);
    code = r.code;
  };
  if (rest.length > 0) {
    // One quoted argument may hold a whole `a; b; c` line.
    const cmds: string[][] = [[]];
    for (const a of rest.length === 1 && /[;\s]/.test(rest[0]!) ? splitArgs(rest[0]!.replace(/;/g, ' ; ')) : rest) {
      if (a === ';') cmds.push([]);
      else cmds[cmds.length - 1]!.push(a);
    }
    const many = cmds.filter((c) => c.length).length > 1;
    for (const c of cmds) await one(c, many);
  } else {
    const rl = readline.createInterface({ input: process.stdin, terminal: false });
    const tty = process.stdin.isTTY;
    if (tty) process.stdout.write('xl> ');
    for await (const line of rl) {
      const t = line.trim();
      if (t === 'exit' || t === 'quit') break;
      if (t && !t.startsWith('#')) await one(splitArgs(t), !tty);
      if (tty) process.stdout.write('xl> ');
    }
  }
  if (opts.trace) writeFileSync(opts.trace, host.sim.trace.toJSON());
  return code;
}
