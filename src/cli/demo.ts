// `npm start`: two small guests exchange events over an interdomain channel
// inside the emulated hypervisor, then Xen's 'e' dump is printed.
//   xenode demo [--seed N] [--rounds N] [--trace out.json]
// The guests are FakeGuests (src/xen/fake_guest.ts); the real unikernel
// runtime will replace them.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { VIRQ } from '../abi/xen.ts';
import { NS, Sim } from '../sim/index.ts';
import { FakeGuest } from '../xen/fake_guest.ts';
import { Hypervisor } from '../xen/index.ts';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { seed: { type: 'string', default: '1' }, rounds: { type: 'string', default: '5' }, trace: { type: 'string' } },
  });
  const seed = Number(values.seed);
  const rounds = Number(values.rounds);
  const sim = new Sim({ seed, trace: values.trace !== undefined });
  const hv = new Hypervisor(sim);
  hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 512 << 10, vcpus: 1, host: true });
  const ping = hv.createDomain({ name: 'ping', memKiB: 256, vcpus: 1 });
  const pong = hv.createDomain({ name: 'pong', memKiB: 256, vcpus: 1 });
  // The toolstack's part: a port in ping reserved for pong (xenstore would carry its number).
  const pingPort = ping.evtchn.allocUnbound(pong.id);
  let got = 0;
  const a = new FakeGuest(ping.vcpus[0]!, {
    start: (g) => {
      g.bindVirq(VIRQ.TIMER);
      g.console(`ping: listening on port ${pingPort}\n`);
    },
    event: (g, port) => {
      if (port !== pingPort) return;
      got++;
      g.console(`ping: event ${got} at ${sim.now} ns\n`);
      if (got < rounds) g.send(pingPort);
      else g.setTimer(sim.now + 1 * NS.ms); // one VIRQ_TIMER, to show a timer event
    },
  });
  let pongPort = -1;
  const b = new FakeGuest(pong.vcpus[0]!, {
    // bind_interdomain sets the new port pending: that first event starts the exchange.
    start: (g) => { pongPort = g.bindInterdomain(ping.id, pingPort); },
    event: (g, port) => { if (port === pongPort) g.send(port); },
  });
  for (const d of [ping, pong]) d.onConsole = (t) => process.stdout.write(`[${d.name}] ${t}`);
  ping.vcpus[0]!.start(a);
  pong.vcpus[0]!.start(b);
  const r = sim.run({ until: 10 * NS.s });
  console.log(`run ended: ${r.reason}${r.reason === 'hang' ? `: ${r.hang.summary}` : ''} at ${sim.now} ns (seed ${seed}), ${got} round trips`);
  process.stdout.write(hv.debugKey('e'));
  if (values.trace) {
    writeFileSync(values.trace, sim.trace.toJSON());
    console.log(`trace written to ${values.trace}`);
  }
  return r.reason === 'hang' || hv.internalErrors.length > 0 ? 1 : 0;
}
