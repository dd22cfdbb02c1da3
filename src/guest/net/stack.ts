// The guest's network stack, assembled (Mirage's `Stackv4`): Ethernet, ARP,
// IPv4, ICMP echo and UDP on one netif, with one MAC, address and netmask.
//
//   const nf = new Netfront(xs); await nf.connect();
//   const cfg = await stackConfig(nf, Cmdline.args);   // throws on a bad command line
//   const stack = Stack.onNetfront(nf, cfg);           // answers ARP and ping from now on
//   udpEcho(stack.udp);
//
// Configuration: the MAC is the vif's `mac` node (the backend's if it has one,
// else the frontend's: libxl writes both); the address and netmask come from
// the kernel command line, `ip=10.0.0.2 netmask=255.255.255.0` (netmask
// defaults to /24), optional `gateway=`.
//
// Who talks: netfront calls input() for each received frame from its RX
// poll; everything the stack sends goes out through netfront.send() before
// input() returns (ARP may queue). Nothing here blocks or throws on input.

import { ipv4ToString, macToString, netmaskPrefix, parseIpv4, parseMac, type Mac } from '../../abi/net/addr.ts';
import type { Netfront } from '../netfront.ts';
import { Main } from '../runtime.ts';
import { Arpv4 } from './arp.ts';
import { totalDrops, type NetClock } from './drops.ts';
import { Ethif, type Netif } from './ethernet.ts';
import { Icmpv4 } from './icmp.ts';
import { Ipv4, type Ipv4Config } from './ipv4.ts';
import { Udp } from './udp.ts';

export interface StackConfig extends Ipv4Config {
  mac: Mac;
}

export class Stack {
  readonly eth: Ethif;
  readonly arp: Arpv4;
  readonly ipv4: Ipv4;
  readonly icmp: Icmpv4;
  readonly udp: Udp;

  constructor(netif: Netif, readonly cfg: StackConfig, clock: NetClock) {
    this.eth = new Ethif(netif, cfg.mac);
    this.arp = new Arpv4(this.eth, clock, cfg.ip);
    this.ipv4 = new Ipv4(this.eth, this.arp, cfg);
    this.icmp = new Icmpv4(this.ipv4);
    this.udp = new Udp(this.ipv4);
  }

  /** A stack fed by `nf`'s receive path, on the runtime's clock. Replaces nf.onReceive. */
  static onNetfront(nf: Netfront, cfg: StackConfig): Stack {
    const s = new Stack(nf, cfg, runtimeClock());
    nf.onReceive = (frame) => s.input(frame);
    s.arp.startAgeing();
    return s;
  }

  input(frame: Uint8Array): void {
    this.eth.input(frame);
  }

  /** Frames refused by any layer. */
  get dropped(): number {
    return [this.eth.drops, this.arp.drops, this.ipv4.drops, this.icmp.drops, this.udp.drops].reduce((a, d) => a + totalDrops(d), 0);
  }

  /** Every non-zero drop counter as `layer.reason=n`, for a summary line. */
  dropReasons(): string {
    const out: string[] = [];
    const layers = { eth: this.eth.drops, arp: this.arp.drops, ip: this.ipv4.drops, icmp: this.icmp.drops, udp: this.udp.drops };
    for (const [l, d] of Object.entries(layers)) for (const [k, v] of Object.entries(d)) if (v) out.push(`${l}.${k}=${v}`);
    return out.join(' ');
  }

  describe(): string {
    return `${macToString(this.cfg.mac)} ${ipv4ToString(this.cfg.ip)} netmask ${ipv4ToString(this.cfg.netmask)}`;
  }
}

/** The runtime's virtual clock (Mirage's Time / Mclock). */
export function runtimeClock(): NetClock {
  const t = Main.platform.time;
  return {
    now: () => t.now(),
    after: (ns, fn) => t.at(t.now() + ns, fn),
    cancel: (h) => t.cancel(h as Parameters<typeof t.cancel>[0]),
  };
}

/**
 * The stack's configuration for a connected netfront: MAC from xenstore,
 * address from `args` (ip=, netmask=, gateway=). Throws an Error naming the
 * bad value; nothing is configured then.
 */
export async function stackConfig(nf: Netfront, args: Record<string, string>): Promise<StackConfig> {
  const be = await nf.xs.tryRead(`${nf.backend}/mac`);
  const macStr = be ?? (await nf.xs.tryRead(`${nf.fe}/mac`));
  if (macStr === undefined) throw new Error(`net: neither ${nf.backend}/mac nor ${nf.fe}/mac exists`);
  return parseStackConfig(macStr, args);
}

export function parseStackConfig(macStr: string, args: Record<string, string>): StackConfig {
  const mac = parseMac(macStr);
  if (mac === undefined) throw new Error(`net: bad mac "${macStr}"`);
  if (args.ip === undefined) throw new Error('net: no ip= on the command line');
  const ip = parseIpv4(args.ip);
  if (ip === undefined) throw new Error(`net: bad ip "${args.ip}"`);
  const netmask = parseIpv4(args.netmask ?? '255.255.255.0');
  if (netmask === undefined || netmaskPrefix(netmask) === undefined) throw new Error(`net: bad netmask "${args.netmask}"`);
  let gateway: number | undefined;
  if (args.gateway !== undefined) {
    gateway = parseIpv4(args.gateway);
    if (gateway === undefined) throw new Error(`net: bad gateway "${args.gateway}"`);
  }
  return { mac, ip, netmask, gateway };
}
