// xs: a xenstore client kernel. Reads its name and domid, publishes
// data/status = ready and data/hello, then watches data/command: each new
// command is printed and answered in data/reply (`ack <n>: <command>`);
// `quit` writes data/status = done, drops the watch (UNWATCH) and exits 0.
//   cmdline: `domid=<n>` is a fallback if the `domid` key is unreadable.
import { concatMap, filter, lastValueFrom, takeWhile } from 'rxjs';
import { Cmdline, Console, Xs, XsError, kernel } from 'xenode/guest';

kernel(async () => {
  const xs = Xs.connect();
  const name = await xs.read('name');
  let domid: number;
  try {
    domid = Number(await xs.read('domid'));
  } catch (e) {
    if (!(e instanceof XsError)) throw e;
    domid = Number(Cmdline.args.domid ?? NaN);
  }
  const home = await xs.getDomainPath(domid);
  Console.log(`xs: I am ${name}, domain ${domid}, home ${home}`);
  await xs.transaction(async (t) => {
    await t.write('data/hello', `hello from ${name}`);
    await t.write('data/status', 'ready');
  });
  let n = 0;
  const done = xs.watch('data/command').pipe(
    // Take the command atomically (read + rm in one transaction, retried on
    // EAGAIN if dom0 writes meanwhile); events with nothing to take (the
    // initial one, our own rm) yield undefined.
    concatMap(async () => {
      const cmd = await xs.transaction(async (t) => {
        const c = await t.tryRead('data/command');
        if (c !== undefined) await t.rm('data/command');
        return c;
      });
      if (cmd === undefined || cmd === '') return undefined;
      n++;
      Console.log(`xs: command ${n}: "${cmd}"`);
      await xs.write('data/reply', `ack ${n}: ${cmd}`);
      return cmd;
    }),
    filter((c): c is string => c !== undefined),
    takeWhile((c) => c !== 'quit', true),
  );
  await lastValueFrom(done, { defaultValue: 'quit' });
  await xs.write('data/status', 'done');
  Console.log(`xs: quit after ${n} commands (${xs.stats.requests} requests, ${xs.stats.events} watch events)`);
  return 0;
});
