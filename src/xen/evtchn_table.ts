// A domain's channel table (Xen's struct evtchn array, d->valid_evtchns,
// d->max_evtchn_port): the per-port state both port ABIs share. The 2L and
// FIFO bit operations live in evtchn.ts and evtchn_fifo.ts; EventChannels
// extends this table.
//
// As in Xen, the table starts with one bucket of 64 valid ports
// (evtchn_init), and valid_evtchns grows by a bucket whenever allocation
// needs a port beyond it, up to max_evtchns(d): 4096 under 2L, 131072 under
// FIFO. The arrays grow by doubling. So an idle domain holds 64 entries
// (704 bytes), not 4096, and an op on a port that was never allocated is
// -EINVAL (port_is_valid), as in Xen.
import { EVTCHN_FIFO_NR_CHANNELS } from '../abi/evtchn_fifo.ts';
import { ECS, EVTCHN_2L_NR_CHANNELS } from '../abi/xen.ts';
import type { EvtchnFifo } from './evtchn_fifo.ts';

/** Ports of the 2L ABI (the table's initial size). */
export const NR_PORTS = EVTCHN_2L_NR_CHANNELS;
/** Xen's EVTCHNS_PER_BUCKET on x86_64: valid_evtchns grows by this much. */
const EVTCHNS_PER_BUCKET = 64;
/** A port number the 2L ABI can name (0 included: callers check state). Any ABI: ChannelTable.valid. */
export function validPort(port: number): boolean {
  return port >>> 0 === port && port < NR_PORTS;
}

/** Bytes per port: remotePort u32, remoteDom u16, state, notify, consumer, virq, delivered. */
const PORT_BYTES = 4 + 2 + 1 + 1 + 1 + 1 + 1;

export class ChannelTable {
  // The per-port arrays share one buffer (one allocation per domain instead
  // of seven), reallocated by grow() (FIFO only): callers hold none of them
  // across a call that can allocate a port. remotePort is u32: a FIFO peer's
  // ports go beyond 65535.
  remotePort!: Uint32Array;
  remoteDom!: Uint16Array;
  state!: Uint8Array;
  notify!: Uint8Array;
  /** xen_consumer: 0 = the guest. xenode has no in-Xen consumers; kept for the dump's x=. */
  consumer!: Uint8Array;
  virq!: Uint8Array;
  /**
   * Per port, 1 once Xen raised the selector for it (FIFO: linked it) while
   * its notify vCPU had an upcall path (per-vCPU vector or global callback):
   * the guest had the port unmasked after it set up event delivery (for the
   * hang oracle's 'masked-after-delivery' rule). Cleared when the port is
   * freed.
   */
  delivered!: Uint8Array;
  /**
   * The FIFO port ops and their state, from the first successful
   * EVTCHNOP_init_control until EVTCHNOP_reset (undefined = 2L). Set only by
   * evtchn_fifo.ts.
   */
  fifo: EvtchnFifo | undefined;
  /**
   * Xen's valid_evtchns: ports below it have a channel (it may be FREE).
   * Grows only. Whole-table walks (closeAll, boundPorts: the hang oracle at
   * every idle step, the 'e' dump) stop here, not at 4096.
   */
  nrValid = EVTCHNS_PER_BUCKET;
  /** Xen's max_evtchn_port (xl max_event_channels - 1; dom0: unlimited). */
  readonly maxPort: number;
  /** Entries in the per-port arrays (>= nrValid). */
  private capacity = 0;

  constructor(maxPort: number) {
    this.maxPort = maxPort;
    this.grow(EVTCHNS_PER_BUCKET);
  }

  /** Reallocate the per-port arrays with room for `cap` ports, keeping their contents. */
  private grow(cap: number): void {
    const old = this.capacity === 0 ? undefined : this.arrays();
    const buf = new ArrayBuffer(cap * PORT_BYTES);
    this.remotePort = new Uint32Array(buf, 0, cap);
    this.remoteDom = new Uint16Array(buf, 4 * cap, cap);
    this.state = new Uint8Array(buf, 6 * cap, cap);
    this.notify = new Uint8Array(buf, 7 * cap, cap);
    this.consumer = new Uint8Array(buf, 8 * cap, cap);
    this.virq = new Uint8Array(buf, 9 * cap, cap);
    this.delivered = new Uint8Array(buf, 10 * cap, cap);
    if (old) this.arrays().forEach((a, i) => a.set(old[i] as never));
    this.capacity = cap;
    this.fifo?.grow(cap);
  }

  private arrays(): (Uint8Array | Uint16Array | Uint32Array)[] {
    return [this.remotePort, this.remoteDom, this.state, this.notify, this.consumer, this.virq, this.delivered];
  }

  /** Make port p valid (Xen allocates a bucket of 64 channels). */
  protected addBucket(p: number): void {
    const want = (Math.floor(p / EVTCHNS_PER_BUCKET) + 1) * EVTCHNS_PER_BUCKET;
    if (want > this.capacity) this.grow(Math.min(EVTCHN_FIFO_NR_CHANNELS, Math.max(want, this.capacity * 2)));
    this.nrValid = want;
  }

  /** Xen's port_is_valid: the port has a channel (it may be FREE). */
  valid(port: number): boolean {
    return port >>> 0 === port && port < this.nrValid;
  }

  /** max_evtchns(d): the ports the domain's ABI can name. */
  maxEvtchns(): number {
    return this.fifo !== undefined ? EVTCHN_FIFO_NR_CHANNELS : NR_PORTS;
  }

  /** max_evtchns(d) capped by max_evtchn_port + 1: the ports allocation may hand out. */
  portLimit(): number {
    return Math.min(this.maxEvtchns(), this.maxPort + 1);
  }

  /** "Usable": bound (state > RESERVED) and consumed by the guest. */
  usable(port: number): boolean {
    return this.state[port]! > ECS.RESERVED && this.consumer[port] === 0;
  }

  /** Which port ABI the domain uses now (EVTCHNOP_init_control switches to FIFO). */
  get abi(): '2l' | 'fifo' {
    return this.fifo !== undefined ? 'fifo' : '2l';
  }
}
