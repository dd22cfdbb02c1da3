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
  /**
   * The ports as a set, and what was learnt on each (br_fdb_delete_by_port
   * walks the hash table; here each port keeps its own entries): a frame's
   * port check and a delif cost the same with 5 ports or 5,000.
   */
  private readonly portSet = new Set<NetDevice>();
  private readonly learnt = new Map<NetDevice, Set<Mac>>();
  /** The bridge's own addresses (br_fdb_insert is_local/is_static): never learnt away, never flooded. */
  private readonly local = new Set<Mac>();
  forwarded = 0;

  constructor(readonly name = 'xenbr0') {}

  /** brctl addif. */
  addif(dev: NetDevice): void {
    if (this.portSet.has(dev)) return;
    this.portSet.add(dev);
    this.ports.push(dev);
  }

  /** brctl delif: forget the port and what was learnt on it. */
  delif(dev: NetDevice): void {
    if (!this.portSet.delete(dev)) return;
    const i = this.ports.indexOf(dev);
    if (i >= 0) this.ports.splice(i, 1);
    for (const m of this.learnt.get(dev) ?? []) if (this.fdb.get(m) === dev) this.fdb.delete(m);
    this.learnt.delete(dev);
  }

  has(dev: NetDevice): boolean {
    return this.portSet.has(dev);
  }

  /**
   * The bridge device's own MAC (br_fdb_change_mac_address / br_fdb_insert
   * with is_local): frames to it go up to `dev` (the host stack) at once.
   * Without it a guest's unicast to dom0 is an unknown destination until dom0
   * happens to send, and floods every other port.
   */
  addLocal(mac: Mac, dev: NetDevice): void {
    this.addif(dev);
    this.local.add(mac);
    this.fdb.set(mac, dev);
  }

  /** br_fdb_update: `mac` was seen on `dev` (a station that moved is forgotten on its old port). */
  private learn(mac: Mac, dev: NetDevice): void {
    const old = this.fdb.get(mac);
    if (old === dev) return;
    // A frame from a port carrying our own address: Linux logs "received
    // packet … with own address as source address" and learns nothing.
    if (this.local.has(mac)) return;
    if (old !== undefined) this.learnt.get(old)?.delete(mac);
    this.fdb.set(mac, dev);
    let s = this.learnt.get(dev);
    if (!s) this.learnt.set(dev, (s = new Set()));
    s.add(mac);
  }

  /** br_handle_frame: `skb` arrived on port `from` (the bridge owns it). */
  receive(skb: Skb, from: NetDevice): void {
    if (!this.has(from)) {
      skb.free();
      return;
    }
    const h = skb.head;
    const src = h.length >= 12 ? readMac(h, 6) : -1;
    if (src >= 0 && !isMulticastMac(src)) this.learn(src, from);
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
