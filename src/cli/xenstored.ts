// `xenode xenstored --socket PATH`: the daemon standalone on a unix socket,
// until SIGINT/SIGTERM. Clients find it through XENSTORED_PATH=PATH.
import { parseArgs } from 'node:util';
import { Xenstored } from '../dom0/xenstored/xenstored.ts';
import { listenUnix } from '../dom0/xenstored/socket.ts';

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
  if (values.help || !values.socket) {
    console.error('usage: xenode xenstored --socket PATH [--verbose]');
    return values.help ? 0 : 2;
  }
  const daemon = new Xenstored({ log: values.verbose ? (m) => console.error(m) : undefined });
  const server = await listenUnix(daemon, values.socket);
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
