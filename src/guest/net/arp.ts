// ARP for the guest stack: a bounded cache, replies for our address, and
// requests (with a bounded queue of packets waiting for the answer). Shaped
// like Mirage tcpip src/arpv4/arp.ml; what it learns from follows Linux
// net/ipv4/arp.c: arp_process.
//
// Who talks: a peer that wants our MAC broadcasts a request; we learn its
// (spa, sha), since it is about to talk to us, and answer with a unicast
// reply. To send to an unresolved address we broadcast a request, keep the
// packets in a per-address queue and send them when the reply arrives.
// Nobody blocks: output is a callback on resolution, and after ARP_RETRIES
// unanswered requests the queue is dropped (counted) and `onUnreachable` is
// told, as Linux neigh_invalidate reports to the sender's socket.
//
// Rules, and why:
//   - learn from a request only if it asks for our address, else only refresh
//     an existing entry (arp_process): a broadcast between two other hosts
//     must not fill our cache;
//   - gratuitous ARP (spa = tpa) refreshes, never creates;
//   - an entry older than ARP_TIMEOUT_NS is not trusted: the next packet
//     re-resolves (the peer may have moved);
//   - the cache holds ARP_CACHE_MAX entries and the waiting queues
//     ARP_QUEUE_MAX packets per address (Linux arp_queue / unres_qlen): a
//     guest must not grow without bound because dom0 floods it.

import { ARP_RETRIES, ARP_RETRY_NS } from '../../abi/net/arp.ts';
import { MAC_BROADCAST, type Ipv4Addr, type Mac } from '../../abi/net/addr.ts';
import { ARPOP_REPLY, ARPOP_REQUEST, decodeArp, encodeArp } from '../../abi/net/arp.ts';
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_ZLEN } from '../../abi/net/ethernet.ts';
import { drop, type Drops, type NetClock } from './drops.ts';
import type { Ethif } from './ethernet.ts';

/** Linux neigh retrans_time (1 s) and mcast_solicit (3). */
/** Entries are re-resolved after this long (Linux gc_stale_time: 60 s). */
export const ARP_TIMEOUT_NS = 60_000_000_000;
export const ARP_CACHE_MAX = 256;
export const ARP_QUEUE_MAX = 16;

interface Entry {
  mac: Mac;
  at: number;
}

interface Pending {
  frames: Uint8Array[];
  tries: number;
  timer: unknown;
}

export class Arpv4 {
  private readonly cache = new Map<Ipv4Addr, Entry>();
  private readonly pending = new Map<Ipv4Addr, Pending>();
  readonly stats = { requests_rx: 0, replies_rx: 0, requests_tx: 0, replies_tx: 0, unresolved: 0 };
  readonly drops: Drops = {};
  /** Told when an address stays unanswered (its queued frames are dropped). */
  onUnreachable: ((ip: Ipv4Addr, frames: number) => void) | undefined;

  constructor(readonly eth: Ethif, readonly clock: NetClock, public ip: Ipv4Addr) {
    eth.arpv4 = (b, off, len) => this.input(b, off, len);
  }

  get size(): number {
    return this.cache.size;
  }

  /** Period of the ageing pass. */
  static readonly AGE_EVERY_NS = 1_000_000_000;

  /**
   * Age the cache once a second from a periodic timer (Linux runs
   * neigh_periodic_work the same way): stale entries go, so a long-idle peer
   * is re-resolved. The timer also means the guest always has a deadline
   * within a second, as a Mirage guest with a network stack does.
   */
  startAgeing(): void {
    const tick = () => {
      const now = this.clock.now();
      for (const [ip, e] of this.cache) if (now - e.at > ARP_TIMEOUT_NS) this.cache.delete(ip);
      this.clock.after(Arpv4.AGE_EVERY_NS, tick);
    };
    this.clock.after(Arpv4.AGE_EVERY_NS, tick);
  }

  /** The cached MAC of `ip`, if fresh. */
  lookup(ip: Ipv4Addr): Mac | undefined {
    const e = this.cache.get(ip);
    if (!e) return undefined;
    if (this.clock.now() - e.at > ARP_TIMEOUT_NS) {
      this.cache.delete(ip);
      return undefined;
    }
    return e.mac;
  }

  /**
   * Send the IPv4 `frame` (ETH_HLEN bytes free at the front) to `ip` once
   * resolved: at once on a cache hit, else after the reply. False if it was
   * dropped (queue full).
   */
  output(ip: Ipv4Addr, frame: Uint8Array): boolean {
    const mac = this.lookup(ip);
    if (mac !== undefined) return this.eth.write(frame, mac, ETH_P_IP);
    let p = this.pending.get(ip);
    if (!p) {
      p = { frames: [], tries: 0, timer: undefined };
      this.pending.set(ip, p);
      this.probe(ip, p);
    }
    if (p.frames.length >= ARP_QUEUE_MAX) {
      drop(this.drops, 'queue-full');
      return false;
    }
    p.frames.push(frame);
    return true;
  }

  private probe(ip: Ipv4Addr, p: Pending): void {
    if (p.tries >= ARP_RETRIES) {
      this.pending.delete(ip);
      this.stats.unresolved += p.frames.length;
      this.onUnreachable?.(ip, p.frames.length);
      return;
    }
    p.tries++;
    this.send(ARPOP_REQUEST, MAC_BROADCAST, 0, ip);
    p.timer = this.clock.after(ARP_RETRY_NS, () => this.probe(ip, p));
  }

  private send(op: number, dst: Mac, tha: Mac, tpa: Ipv4Addr): void {
    // Padded to the Ethernet minimum, as a NIC would.
    const f = new Uint8Array(ETH_ZLEN);
    encodeArp(f, ETH_HLEN, { op, sha: this.eth.mac, spa: this.ip, tha, tpa });
    if (op === ARPOP_REQUEST) this.stats.requests_tx++;
    else this.stats.replies_tx++;
    this.eth.write(f, dst, ETH_P_ARP);
  }

  input(b: Uint8Array, off: number, len: number): void {
    const p = decodeArp(b, off, len);
    if (typeof p === 'string') return drop(this.drops, p);
    if (p.op === ARPOP_REQUEST) this.stats.requests_rx++;
    else this.stats.replies_rx++;
    if (p.spa === this.ip) return drop(this.drops, 'duplicate-address');
    const forUs = p.tpa === this.ip;
    if ((forUs && p.op === ARPOP_REQUEST) || this.cache.has(p.spa) || this.pending.has(p.spa)) this.update(p.spa, p.sha);
    if (forUs && p.op === ARPOP_REQUEST) this.send(ARPOP_REPLY, p.sha, p.sha, p.spa);
  }

  private update(ip: Ipv4Addr, mac: Mac): void {
    this.cache.delete(ip); // re-insert: the Map's order is the eviction order (oldest first)
    if (this.cache.size >= ARP_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(ip, { mac, at: this.clock.now() });
    const p = this.pending.get(ip);
    if (!p) return;
    this.pending.delete(ip);
    this.clock.cancel(p.timer);
    for (const f of p.frames) this.eth.write(f, mac, ETH_P_IP);
  }
}
