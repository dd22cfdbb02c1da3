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

function usage(): number {
  console.error('usage: xenode xl [--seed N] [--xenwatch single|mtwatch] [--legacy-dm] [--trace F] CMD [ARGS…] [; CMD …]');
  console.error('       (no CMD: read commands from stdin; `sleep SECONDS` advances virtual time)');
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  const opts: { seed: number; xenwatch: 'single' | 'mtwatch'; legacy: boolean; trace?: string } = { seed: 1, xenwatch: 'single', legacy: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seed') opts.seed = Number(argv[++i]);
    else if (a === '--xenwatch') opts.xenwatch = argv[++i] as 'single' | 'mtwatch';
    else if (a === '--legacy-dm') opts.legacy = true;
    else if (a === '--trace') opts.trace = argv[++i]!;
    else if (a === '-h' || a === '--help') return usage();
    else break;
  }
  if (!Number.isSafeInteger(opts.seed) || opts.seed < 0) return usage();
  if (opts.xenwatch !== 'single' && opts.xenwatch !== 'mtwatch') return usage();
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
