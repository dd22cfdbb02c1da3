// pingpong: an interdomain event-channel ping-pong between two kernels.
//   server (cmdline `role=server peer=<domid> rounds=N`): EVTCHNOP_alloc_unbound
//     for the peer, answers every ping with a pong, exits 0 after N rounds.
//   client (`role=client peer=<domid> port=<server port> rounds=N`):
//     EVTCHNOP_bind_interdomain (retrying until the server has allocated), then
//     N pings, each waiting for its pong with Activations.after.
// Written with Lwt binds (no await) so the hot path needs no realm drains.
import { Activations, Cmdline, Console, Eventchn, Lwt, Time, kernel, program_start, type LwtT } from '../src/guest/index.ts';

kernel(() => {
  const args = Cmdline.args;
  const rounds = Number(args.rounds ?? 1000);
  const peer = Number(args.peer ?? 0);
  const quiet = args.quiet !== undefined;
  if (args.role === 'server') {
    const port = Eventchn.alloc_unbound(peer);
    Eventchn.unmask(port);
    if (!quiet) Console.log(`pingpong server: port ${port} for d${peer}, ${rounds} rounds`);
    let c = program_start;
    let i = 0;
    const loop = (): LwtT<number> =>
      Activations.after(port, c).bind_((nc) => {
        c = nc;
        Eventchn.notify(port);
        return ++i >= rounds ? Lwt.return_(0) : loop();
      });
    return loop().bind_((code) => {
      if (!quiet) Console.log(`pingpong server: ${i} pongs`);
      return code;
    });
  }
  const remotePort = Number(args.port ?? 2);
  const bind = (): LwtT<number> => {
    try {
      return Lwt.return_(Eventchn.bind_interdomain(peer, remotePort));
    } catch {
      return Time.sleep_ns(1_000_000).bind_(bind);
    }
  };
  return bind().bind_((port) => {
    Eventchn.unmask(port);
    const t0 = Time.now_ns();
    // bind_interdomain leaves our new port pending: take that event first.
    return Activations.after(port, program_start).bind_((c0) => {
      let c = c0;
      let i = 0;
      const loop = (): LwtT<number> => {
        if (i >= rounds) return Lwt.return_(0);
        Eventchn.notify(port);
        return Activations.after(port, c).bind_((nc) => {
          c = nc;
          i++;
          return loop();
        });
      };
      return loop().bind_((code) => {
        if (!quiet) Console.log(`pingpong client: ${i} round trips on port ${port} in ${(Time.now_ns() - t0) / 1e6} ms virtual`);
        return code;
      });
    });
  });
});
