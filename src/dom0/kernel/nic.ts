// The physical NIC (eth0): a bridge port whose TX ring holds each skb until
// its TX completion, a little later on the virtual clock. Every frame put on
// the wire is recorded (tests, demos).
//
// Fault (the 2016–2019 reports): a NIC driver can keep a TX skb, and with it a
// guest page netback has grant-mapped. `hold(vif)` makes the NIC keep the next
// zerocopy skb that came from `vif` (like the xwstall hook on vifX.Y).
// `ifconfig eth0 down` frees everything in the TX ring (e1000_clean_tx_ring),
// held skbs included: their zerocopy callbacks run, inflight_packets drops to
// 0, the dealloc thread exits, kthread_stop returns and xenwatch drains.

import type { Sim } from '../../sim/index.ts';
import type { Bridge, NetDevice } from './bridge.ts';
import type { Skb } from './skb.ts';

export interface NicOptions {
  name?: string;
  /** TX completion delay in ns (default 10 µs). */
  txCompletionNs?: number;
  /** Frames `wire` keeps, the newest (default NIC_CAPTURE_FRAMES; 0: no capture, no copy). */
  captureFrames?: number;
}

/** The default capture: enough for a test to look at what went out, bounded under ping -f. */
export const NIC_CAPTURE_FRAMES = 64;

export class Nic implements NetDevice {
  readonly name: string;
  up = true;
  /** The last `captureFrames` frames sent (a capture, not a log: bounded, oldest dropped). */
  readonly wire: Uint8Array[] = [];
  readonly captureFrames: number;
  /** skbs in the TX ring, not yet completed. */
  private readonly txRing = new Set<Skb>();
  private readonly held = new Set<Skb>();
  private holdFrom = new Set<string>();
  readonly txCompletionNs: number;
  bridge: Bridge | undefined;
  stats = { tx_packets: 0, tx_dropped: 0, rx_packets: 0 };
  /** Log lines (like the xwstall hook's printk). */
  readonly log: string[] = [];

  constructor(readonly sim: Sim, opts: NicOptions = {}) {
    this.name = opts.name ?? 'eth0';
    this.txCompletionNs = opts.txCompletionNs ?? 10_000;
    this.captureFrames = opts.captureFrames ?? NIC_CAPTURE_FRAMES;
    if (!(Number.isInteger(this.captureFrames) && this.captureFrames >= 0)) throw new Error(`Nic: captureFrames ${opts.captureFrames} is not a count`);
  }

  /** Keep the next zerocopy skb from `vif` forever (until the NIC goes down). */
  hold(vif: string): void {
    this.holdFrom.add(vif);
  }

  get heldCount(): number {
    return this.held.size;
  }

  get inTxRing(): number {
    return this.txRing.size;
  }

  xmit(skb: Skb): void {
    if (!this.up) {
      this.stats.tx_dropped++;
      skb.free();
      return;
    }
    this.stats.tx_packets++;
    // DMA reads the frags in place: the wire gets the bytes (the capture copies them, when on).
    if (this.captureFrames > 0) {
      const bytes = new Uint8Array(skb.len);
      bytes.set(skb.head, 0);
      let o = skb.head.length;
      for (const f of skb.frags) {
        bytes.set(new Uint8Array(f.page, f.offset, f.len), o);
        o += f.len;
      }
      this.wire.push(bytes);
      if (this.wire.length > this.captureFrames) this.wire.splice(0, this.wire.length - this.captureFrames);
    }
    this.txRing.add(skb);
    if (skb.zerocopy && this.holdFrom.has(skb.dev)) {
      this.holdFrom.delete(skb.dev);
      this.held.add(skb);
      this.log.push(`xwstall: hold sk_buff from ${skb.dev} (nr_frag=${skb.frags.length})`);
      return;
    }
    this.sim.clock.after(this.txCompletionNs, () => this.complete(skb), `${this.name}: tx completion`);
  }

  private complete(skb: Skb): void {
    if (!this.txRing.delete(skb)) return;
    skb.free();
  }

  /** ifconfig eth0 down|up. Down frees the whole TX ring, held skbs too. */
  ifconfig(state: 'up' | 'down'): void {
    if (state === 'up') {
      this.up = true;
      return;
    }
    this.up = false;
    const all = [...this.txRing];
    this.txRing.clear();
    this.held.clear();
    if (all.length) this.log.push(`${this.name}: down, freed ${all.length} tx skb(s)`);
    for (const skb of all) skb.free();
  }

  /** A frame from the outside world. */
  receive(frame: Uint8Array, make: (b: Uint8Array) => Skb): void {
    if (!this.up || !this.bridge) return;
    this.stats.rx_packets++;
    const skb = make(frame.slice());
    skb.dev = this.name;
    this.bridge.receive(skb, this);
  }
}
