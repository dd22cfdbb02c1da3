// A software bridge (net/bridge): ports are net devices (the NIC, vifs); it
// learns source MACs and forwards to the learnt port, floods unknown and
// multicast destinations to every other port. Flooding hands each port a
// clone, so a zerocopy packet completes only when every port is done with it.

import { isMulticastMac, readMac, type Mac } from '../../abi/net/addr.ts';
import type { Skb } from './skb.ts';

export interface NetDevice {
  readonly name: string;
  /** ndo_start_xmit: the device owns this skb reference from now on. */
  xmit(skb: Skb): void;
}

export class Bridge {
  readonly ports: NetDevice[] = [];
  /** Forwarding database: MAC (as a number, see abi/net/addr.ts) → port. */
  private readonly fdb = new Map<Mac, NetDevice>();
  forwarded = 0;

  constructor(readonly name = 'xenbr0') {}

  /** brctl addif. */
  addif(dev: NetDevice): void {
    if (!this.ports.includes(dev)) this.ports.push(dev);
  }

  /** brctl delif: forget the port and what was learnt on it. */
  delif(dev: NetDevice): void {
    const i = this.ports.indexOf(dev);
    if (i >= 0) this.ports.splice(i, 1);
    for (const [m, d] of [...this.fdb]) if (d === dev) this.fdb.delete(m);
  }

  has(dev: NetDevice): boolean {
    return this.ports.includes(dev);
  }

  /** br_handle_frame: `skb` arrived on port `from` (the bridge owns it). */
  receive(skb: Skb, from: NetDevice): void {
    if (!this.has(from)) {
      skb.free();
      return;
    }
    const h = skb.head;
    const src = h.length >= 12 ? readMac(h, 6) : -1;
    if (src >= 0 && !isMulticastMac(src)) this.fdb.set(src, from);
    const dst = h.length >= 6 ? readMac(h, 0) : -1;
    const known = dst >= 0 && !isMulticastMac(dst) ? this.fdb.get(dst) : undefined;
    const targets = known ? (known === from ? [] : [known]) : this.ports.filter((p) => p !== from);
    this.forwarded++;
    if (targets.length === 0) {
      skb.free();
      return;
    }
    for (let i = 1; i < targets.length; i++) targets[i]!.xmit(skb.clone());
    targets[0]!.xmit(skb);
  }
}
