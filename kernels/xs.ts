// xs: a xenstore client kernel. Reads its name and domid, publishes
// data/status = ready and data/hello, then watches data/command: each new
// command is printed and answered in data/reply (`ack <n>: <command>`);
// `quit` writes data/status = done, drops the watch (UNWATCH) and exits 0.
//   cmdline: `domid=<n>` is a fallback if the `domid` key is unreadable;
//   `idle=<ms>` ends the same way after that long without a command.
import { concatMap, filter, lastValueFrom, map, of, takeWhile, timeout } from 'rxjs';
import { Cmdline, Console, Lwt, Xs, XsError, fromLwt, kernel, scheduler } from 'xenode/guest';

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
  const idleMs = Cmdline.args.idle === undefined ? undefined : Number(Cmdline.args.idle);
  // The watch as a stream of fired paths, composed with RxJS operators on the
  // guest's virtual-time scheduler; every wait in it is an Observable.
  const done = xs.watch('data/command').pipe(
    // Take the command atomically: read + rm in one transaction (transaction$
    // retries on EAGAIN, with back-off on virtual time, if dom0 writes
    // meanwhile). Events with nothing to take (the initial one, our own rm)
    // yield undefined.
    concatMap(() =>
      xs.transaction$((t) =>
        t.tryRead('data/command').bind_((c) => (c === undefined ? Lwt.return_(c) : t.rm('data/command').map_(() => c))),
      ),
    ),
    filter((c): c is string => c !== undefined && c !== ''),
    concatMap((cmd) => {
      n++;
      Console.log(`xs: command ${n}: "${cmd}"`);
      return fromLwt(() => xs.write('data/reply', `ack ${n}: ${cmd}`)).pipe(map(() => cmd));
    }),
    takeWhile((c) => c !== 'quit', true),
    // `idle=<ms>`: give up when no command comes for that long (virtual time).
    idleMs === undefined ? (o) => o : timeout({ each: idleMs, scheduler: scheduler(), with: () => of('idle') }),
  );
  const last = await lastValueFrom(done, { defaultValue: 'quit' });
  if (last === 'idle') Console.log(`xs: idle for ${idleMs} ms`);
  await xs.write('data/status', 'done');
  Console.log(`xs: quit after ${n} commands (${xs.stats.requests} requests, ${xs.stats.events} watch events)`);
  return 0;
});
