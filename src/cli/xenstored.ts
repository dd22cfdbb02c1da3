// `xenode xenstored --socket PATH`: the daemon standalone on a unix socket,
// until SIGINT/SIGTERM. Clients find it through XENSTORED_PATH=PATH.
import { parseArgs } from 'node:util';
import { Xenstored } from '../dom0/xenstored/xenstored.ts';
import { listenUnix } from '../dom0/xenstored/socket.ts';

export const help = `usage: xenode xenstored --socket PATH [--verbose]

Runs the xenstore daemon standalone on a unix socket until SIGINT/SIGTERM and
prints the socket's path. Clients find it through XENSTORED_PATH=PATH.

options:
  --socket PATH        the unix socket to listen on (required)
  --verbose            log every request on stderr
  -h, --help           this help
exit: 0 stopped by a signal, 1 could not listen, 2 bad command line

example:
  xenode xenstored --socket /tmp/xs.sock
`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { socket: { type: 'string' }, verbose: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
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
  const daemon = new Xenstored({ log: values.verbose ? (m) => console.error(m) : undefined });
  let server;
  try {
    server = await listenUnix(daemon, values.socket);
  } catch (e) {
    console.error(`xenode xenstored: ${(e as Error).message}`);
    return 1;
  }
  console.log(server.path);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}

// Also runnable directly: node --import tsx src/cli/xenstored.ts --socket PATH
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
