// pingpong: an interdomain event-channel ping-pong between two kernels.
//   server (cmdline `role=server peer=<domid> rounds=N`): EVTCHNOP_alloc_unbound
//     for the peer, answers every ping with a pong, exits 0 after N rounds.
//   client (`role=client peer=<domid> port=<server port> rounds=N`):
//     EVTCHNOP_bind_interdomain (retrying until the server has allocated), then
//     N pings, each waiting for its pong with Activations.after.
// Port exchange: with a xenstore ring (a domain made by `xl create`) the
// server publishes its port in data/port (readable by the peer) and a client
// without `port=` watches /local/domain/<peer>/data/port for it; without a
// store (the bare-hypervisor scenario and the benchmark) the client's `port=`
// is used as before.
// Written with Lwt binds (no await) so the hot path needs no realm drains.
import { concatMap, filter, firstValueFrom } from 'rxjs';
import { Activations, Cmdline, Console, Eventchn, Lwt, Time, Xs, kernel, program_start, type LwtT, type XsClient } from 'xenode/guest';

/** The domain's xenstore client, or undefined if it has no store ring. */
function store(): XsClient | undefined {
  try {
    return Xs.connect();
  } catch {
    return undefined;
  }
}

/** Server: data/port = port, readable by the peer (one transaction). */
function publishPort(xs: XsClient, port: number, peer: number): LwtT<void> {
  return xs.read('domid').bind_((self) =>
    xs.transaction((t) => t.write('data/port', String(port)).bind_(() => t.setPerms('data/port', [`n${self}`, `r${peer}`]))),
  );
}

/** Client: wait (watch) until the peer's data/port is readable. */
function lookupPort(xs: XsClient, peer: number): LwtT<number> {
  const path = `/local/domain/${peer}/data/port`;
  const found = xs.watch(path).pipe(
    concatMap(() => Lwt.catch_(() => xs.read(path).map_((v): number | undefined => Number(v)), () => undefined)),
    filter((p): p is number => p !== undefined && Number.isInteger(p) && p > 0),
  );
  return Lwt.of_promise(firstValueFrom(found)); // unsubscribes (UNWATCH) on the first value
}

kernel(() => {
  const args = Cmdline.args;
  const rounds = Number(args.rounds ?? 1000);
  const peer = Number(args.peer ?? 0);
  const quiet = args.quiet !== undefined;
  if (args.role === 'server') {
    const port = Eventchn.alloc_unbound(peer);
    Eventchn.unmask(port);
    const xs = args.port === undefined ? store() : undefined;
    if (!quiet) Console.log(`pingpong server: port ${port} for d${peer}, ${rounds} rounds${xs ? ' (published in data/port)' : ''}`);
    let c = program_start;
    let i = 0;
    // One continuation for every round (no closure allocated per event).
    const pong = (nc: number): LwtT<number> => {
      c = nc;
      Eventchn.notify(port);
      return ++i >= rounds ? Lwt.return_(0) : loop();
    };
    const loop = (): LwtT<number> => Activations.after(port, c).bind_(pong);
    return (xs ? publishPort(xs, port, peer) : Lwt.return_unit).bind_(loop).bind_((code) => {
      if (!quiet) Console.log(`pingpong server: ${i} pongs`);
      return code;
    });
  }
  const xs = args.port === undefined ? store() : undefined;
  const remote: LwtT<number> = xs ? lookupPort(xs, peer) : Lwt.return_(Number(args.port ?? 2));
  let remotePort = 0;
  const bind = (): LwtT<number> => {
    try {
      return Lwt.return_(Eventchn.bind_interdomain(peer, remotePort));
    } catch {
      return Time.sleep_ns(1_000_000).bind_(bind);
    }
  };
  return remote.bind_((rp) => {
    remotePort = rp;
    if (xs && !quiet) Console.log(`pingpong client: d${peer}'s port ${rp} (from xenstore)`);
    return bind();
  }).bind_((port) => {
    Eventchn.unmask(port);
    const t0 = Time.now_ns();
    // bind_interdomain leaves our new port pending: take that event first.
    return Activations.after(port, program_start).bind_((c0) => {
      let c = c0;
      let i = 0;
      const loop = (): LwtT<number> => {
        if (i >= rounds) return Lwt.return_(0);
        Eventchn.notify(port);
        return Activations.after(port, c).bind_(ponged);
      };
      // One continuation for every round (no closure allocated per event).
      const ponged = (nc: number): LwtT<number> => {
        c = nc;
        i++;
        return loop();
      };
      return loop().bind_((code) => {
        if (!quiet) Console.log(`pingpong client: ${i} round trips on port ${port} in ${(Time.now_ns() - t0) / 1e6} ms virtual`);
        return code;
      });
    });
  });
});
