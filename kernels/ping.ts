// ping: a Mirage-like unikernel (xenstore client, console, netfront and the
// guest network stack) that answers ARP, ICMP echo and UDP echo (port 7), and
// counts what it saw. It runs until told to stop, then prints one summary
// line and powers off:
//   count=N          after answering N echo requests
//   stop_after=DUR   after DUR of virtual time (e.g. 5s, 200ms)
// Network: ip= (default 10.0.0.2, as examples/ping.cfg) netmask= (default
// 255.255.255.0) [gateway=…] on the command line; the MAC is the vif's
// (xenstore). dom0 is 10.0.0.1 on xenbr0: `ping -c 3 10.0.0.2` in its shell.
// Its xenstore client also serves dom0: each value written to data/command is
// answered in data/reply (`ack N: VALUE`), through a watch stream composed
// with RxJS, so xenstore events keep arriving on port 1 while it runs (the
// `xenstore` workload of `xenode scenario missed-event`).
//xl: vif = [ 'mac=00:16:3e:00:00:02,bridge=xenbr0' ]
import { concatMap, filter } from 'rxjs';
import { Cmdline, Console, Lwt, Netfront, Stack, Time, Xs, fromLwt, kernel, stackConfig, udpEcho } from 'xenode/guest';

function duration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s)$/.exec(s);
  if (!m) throw new Error(`ping: bad duration "${s}" (e.g. 5s, 200ms)`);
  return Number(m[1]) * { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[m[2] as 'ns' | 'us' | 'ms' | 's'];
}

kernel(async () => {
  const args: Record<string, string> = { ip: '10.0.0.2', ...Cmdline.args };
  const count = args.count === undefined ? Infinity : Number(args.count);
  if (!(count > 0)) throw new Error(`ping: bad count "${args.count}"`);
  const stopAfter = args.stop_after === undefined ? undefined : duration(args.stop_after);
  // A heartbeat from the start: once a second the kernel samples its uptime,
  // so it always has a timer within a second (VIRQ_TIMER keeps firing while
  // it waits for netfront to come up, as in the June 2020 dumps).
  let beats = 0;
  const heartbeat = (): Lwt.Lwt<void> => Lwt.bind(Time.sleep_ns(1e9), () => {
    beats++;
    return heartbeat();
  });
  void heartbeat();
  const xs = Xs.connect();
  if ((await xs.tryRead('device/vif/0/backend')) === undefined) {
    Console.log('ping: this domain has no vif 0 (give it one, as examples/ping.cfg does)');
    return 1;
  }
  const nf = new Netfront(xs, 0);
  await nf.connect();
  const stack = Stack.onNetfront(nf, await stackConfig(nf, args));
  udpEcho(stack.udp);
  Console.log(`ping: ${stack.describe()} on ${nf.backend} (port ${nf.port})`);
  let commands = 0;
  const served = xs
    .watch('data/command')
    .pipe(
      concatMap(() => fromLwt(() => xs.tryRead('data/command'))),
      filter((c): c is string => c !== undefined && c !== ''),
      concatMap((c) => fromLwt(() => xs.write('data/reply', `ack ${++commands}: ${c}`))),
    )
    .subscribe({ error: (e: unknown) => Console.log(`ping: xenstore commands stopped: ${String(e)}`) });
  const [stop, stopR] = Lwt.wait<string>();
  const input = nf.onReceive!;
  nf.onReceive = (frame) => {
    input(frame);
    if (stack.icmp.stats.echo_requests >= count && Lwt.is_pending(stop)) Lwt.wakeup_later(stopR, `${count} echo requests`);
  };
  if (stopAfter !== undefined) void Lwt.bind(Time.sleep_ns(stopAfter), () => {
    if (Lwt.is_pending(stop)) Lwt.wakeup(stopR, `stop_after=${args.stop_after}`);
    return Lwt.return_unit;
  });
  const why = await stop;
  served.unsubscribe();
  const e = stack.eth.stats, a = stack.arp.stats, i = stack.icmp.stats, u = stack.udp.stats;
  const reasons = stack.dropReasons();
  Console.log(
    `ping: stopped (${why}): rx ${e.rx_frames} tx ${e.tx_frames} frames, arp ${a.requests_rx}/${a.replies_tx} requests/replies, ` +
      `icmp ${i.echo_requests}/${i.echo_replies_tx} echo requests/replies, udp ${u.rx_datagrams}/${u.tx_datagrams} in/out, ` +
      `dropped ${stack.dropped}${reasons ? ` (${reasons})` : ''}, ${beats} heartbeats`,
  );
  return 0;
});
