// The `xenode` command. Each subcommand lives in its own file under src/cli/
// and exports `main(argv: string[]): Promise<number>` (the exit code).
// Usage: xenode <command> [options]   (xenode help lists them)
import { readFileSync } from 'node:fs';
import { styleText } from 'node:util';

/** package.json's version: the one `npm ls` and the registry would show. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const commands: Record<string, { file: string; help: string }> = {
  demo: { file: './demo.ts', help: 'the main demo (what `npm start` runs)' },
  run: {
    file: './run.ts',
    help:
      'build and boot a kernel: xenode run kernels/hello.ts [--seed N] [--trace out.json] [--debug-keys e]\n' +
      '               [--variant fixed|unmask=checks-mask|block=hlt-without-cli|handler-clears-upcall-pending|upcall=global-callback]',
  },
  'debug-keys': { file: './debug_keys.ts', help: "boot and print a debug-key dump: xenode debug-keys e KERNEL" },
  xenstored: { file: './xenstored.ts', help: 'run the xenstore daemon on a unix socket: xenode xenstored --socket PATH' },
  scenario: {
    file: './scenario.ts',
    help:
      'play a scenario as a terminal transcript [--seed N] [--trace F] [--json]:\n' +
      '               xenwatch-stall --backend netback|blkback-io|blkback-grant --xenwatch single|mtwatch\n' +
      '               dm-startup [--legacy]\n' +
      '               frontend-handover [--backend netback|blkback] [--cycles N]',
  },
  xl: {
    file: './xl.ts',
    help:
      'the toolstack on an emulated host: xenode xl [--xenwatch single|mtwatch] "create a.cfg; list; destroy 1"\n' +
      '               (create, destroy, list, network-attach|detach, block-attach|detach, debug-keys e, console, dmesg;\n' +
      '               no command: read them from stdin; `sleep S` advances virtual time)',
  },
  dom0: { file: './xl.ts', help: 'the same host shell as `xl`, for dom0 commands: xenode dom0 "ifconfig eth0 down; ifconfig eth0 up"' },
  ps: { file: './ps.ts', help: "dom0's kernel threads after a scenario" },
  stack: { file: './stack.ts', help: '/proc/PID/stack of a dom0 thread after a scenario' },
  sweep: { file: './sweep.ts', help: 'run a scenario or a kernel over many seeds: xenode sweep run KERNEL --seeds 1..50 [--json]' },
  explore: {
    file: './explore.ts',
    help:
      'search schedules for failures, shrink each to a 1-minimal replay token:\n' +
      '               xenode explore TARGET [--variant V] [--workload W] [--strategy random|pct|swarm|pos] [--depth D]\n' +
      '               [--schedules N] [--jobs J] [--shard I/N] [--seed S] [--json] [--check-determinism] [--emit-test DIR] [--picks fifo];\n' +
      '               xenode explore merge FILES...  (TARGET: missed-event, xenwatch-stall, dm-startup, frontend-handover or a kernel file)',
  },
  replay: { file: './replay.ts', help: 'replay a schedule from its token: xenode replay TOKEN' },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(`xenode ${version()}`);
    return 0;
  }
  // `xenode help CMD` is `xenode CMD --help`.
  if (name === 'help' && rest[0] && commands[rest[0]]) return main([rest[0], '--help']);
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(styleText('bold', 'xenode') + ` ${version()} — a Xen host and PVHv2 unikernel runtime in TypeScript\n`);
    console.log('usage: xenode COMMAND [options]     xenode COMMAND --help    xenode --version\n');
    for (const [n, c] of Object.entries(commands)) console.log(`  ${n.padEnd(12)} ${c.help}`);
    console.log('\nexit codes: 0 ok, 1 the command ran and failed (a hang, a failed check), 2 bad command line');
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    console.error(`xenode: unknown command '${name}' (try: xenode help)`);
    return 2;
  }
  const mod = (await import(cmd.file)) as { main(argv: string[]): Promise<number>; help?: string };
  // Commands without a long help of their own get their summary line.
  if (mod.help === undefined && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(`xenode ${name}: ${cmd.help}`);
    return 0;
  }
  return mod.main(rest);
}

// `xenode ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
process.exitCode = await main(process.argv.slice(2));
