// Guest transport: the `xenstore_domain_interface` page shared with a domU
// (req ring written by the guest, rsp ring written by us, free-running u32
// indices). The emulator calls Xenstored.kick(domid) when the guest notifies
// its port; we consume every complete request, produce replies and events
// into rsp, and notify the guest after consuming and after producing.
//
// A corrupt index pair (prod - cons > 1024) or a header with len > 4096 marks
// the ring `error = XENSTORE_ERROR_PROTO` and the connection is ignored from
// then on (cxenstored's ignore_connection): the domain itself stays, so no
// @releaseDomain fires until it really dies (XSA-325).

import {
  XENSTORE_CONNECTED, XENSTORE_ERROR_PROTO, XS_RING_CONNECTION, XS_RING_ERROR, XS_RING_REQ, XS_RING_REQ_CONS,
  XS_RING_REQ_PROD, XS_RING_RSP, XS_RING_RSP_CONS, XS_RING_RSP_PROD, XS_WATCH_EVENT, XsFrameReader, XsRing, encodeMessage,
} from '../../abi/xs_wire.ts';
import { Connection, eventKey } from './connection.ts';
import type { Xenstored } from './xenstored.ts';

export interface RingMapping {
  page: ArrayBuffer;
  /** Signals the guest's xenstore event channel. */
  notify(): void;
  /** Called once when the daemon drops the connection (release, death): unmap the page. */
  unmap?(): void;
}

/**
 * Queued frames per unprivileged ring beyond which new watch events are
 * dropped, with one dmesg line per episode (XSA-326). cxenstored bounds this
 * queue by the domain's memory quota and a 20 s event timeout instead; a
 * frame count is the same bound without a clock (the daemon has none).
 */
export const MAX_QUEUED_EVENTS = 1024;

export class RingConnection extends Connection {
  private readonly ring: XsRing;
  private readonly reader = new XsFrameReader();
  /** Frames not yet (fully) copied into rsp; `outOff` bytes of the first one are already there. */
  private readonly outq: Uint8Array[] = [];
  /** eventKey of each queued frame (undefined: a reply or an `@` event), parallel to outq. */
  private readonly outKeys: Array<string | undefined> = [];
  private readonly queuedEvents = new Set<string>();
  private dropping = false;
  private outOff = 0;
  /** Protocol error seen: the ring is ignored from now on. */
  ignored = false;
  /** Not read while the domain is at its hard memory quota. */
  stalled = false;

  constructor(private readonly daemon: Xenstored, seq: number, domid: number, private readonly mapping: RingMapping) {
    super(seq, domid, domid === 0);
    this.ring = new XsRing(mapping.page);
  }

  /** After INTRODUCE: tell the guest xenstore is there. cxenstored leaves server_features at 0. */
  connected(): void {
    this.ring.set(XS_RING_CONNECTION, XENSTORE_CONNECTED);
    this.mapping.notify();
  }

  rebind(_port: number): void {
    // The emulator owns the event channel; notify() already targets the guest.
  }

  /**
   * Handles a kick: drain output, then take requests off the ring one at a
   * time, processing each, while fewer than `outstanding` replies and events
   * wait for room in rsp (cxenstored: domain_can_read).
   */
  service(): void {
    if (this.ignored || this.closed) return;
    let notify = this.drain();
    const limit = this.privileged ? Infinity : this.daemon.quotas.outstanding;
    for (;;) {
      // cxenstored's domain_can_read: a domain at its hard memory quota (dom0
      // wrote its nodes) is not read until its usage drops (Xenstored.run
      // looks again after every batch).
      if (!this.privileged && this.daemon.store.memoryOf(this.domid) >= this.daemon.quotas.memory) {
        if (!this.stalled) {
          this.stalled = true;
          this.daemon.stalledRings.add(this);
          this.daemon.log(`xenstored: domain ${this.domid} exceeds hard memory quota, Xenstore interface to domain stalled`);
        }
        break;
      }
      if (this.outq.length >= limit) {
        if (this.drain()) notify = true;
        if (this.outq.length >= limit) break;
      }
      const m = this.reader.next();
      if (m) {
        this.daemon.process(this, m);
        if (this.closed) return;
        continue;
      }
      if (this.reader.broken) return this.protocolError();
      // Only the bytes of the next request: what is not processed stays on
      // the ring (req_cons does not pass it), as cxenstored's handle_input
      // reads one message at a time and none while the domain is at its
      // outstanding quota.
      const bytes = this.ring.read(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS, this.reader.needed);
      if (bytes === undefined) return this.protocolError();
      if (bytes.length === 0) break;
      notify = true; // consumed: the guest may be waiting for space
      this.reader.push(bytes);
    }
    if (notify) this.mapping.notify();
  }

  /**
   * Called by the daemon while this ring is stalled: true (and the ring is
   * read again, logged) once the domain's usage is below the hard quota.
   */
  resumable(): boolean {
    if (this.daemon.store.memoryOf(this.domid) >= this.daemon.quotas.memory) return false;
    this.stalled = false;
    this.daemon.log(`xenstored: domain ${this.domid} below hard memory quota again, Xenstore interface to domain resumed`);
    this.daemon.run(() => this.service());
    return true;
  }

  private protocolError(): void {
    this.ring.set(XS_RING_ERROR, XENSTORE_ERROR_PROTO);
    this.ignored = true;
    this.daemon.watches.removeAll(this);
    this.daemon.dropTransactions(this);
    this.outq.length = 0;
    this.outKeys.length = 0;
    this.queuedEvents.clear();
    this.daemon.log(`xenstored: domain ${this.domid}: ring protocol error, connection ignored`);
  }

  /** Copies queued output into rsp; true if anything was written. */
  private drain(): boolean {
    let wrote = false;
    while (this.outq.length > 0) {
      const f = this.outq[0]!;
      const n = this.ring.write(XS_RING_RSP, XS_RING_RSP_PROD, XS_RING_RSP_CONS, f.subarray(this.outOff));
      if (n < 0) {
        this.protocolError();
        return wrote;
      }
      if (n > 0) wrote = true;
      this.outOff += n;
      if (this.outOff < f.length) break;
      this.outq.shift();
      const k = this.outKeys.shift();
      if (k !== undefined) this.queuedEvents.delete(k);
      this.outOff = 0;
    }
    if (this.outq.length === 0) this.dropping = false;
    return wrote;
  }

  override write(type: number, reqId: number, txId: number, payload: Uint8Array): void {
    if (this.ignored) return;
    let key: string | undefined;
    if (type === XS_WATCH_EVENT) {
      // An event identical to one still queued adds nothing (cxenstored: send_event, XSA-326).
      key = eventKey(payload);
      if (key !== undefined && this.queuedEvents.has(key)) return;
      // A guest that never reads its ring must not make us queue events without bound.
      if (!this.privileged && this.outq.length >= MAX_QUEUED_EVENTS) {
        if (!this.dropping) this.daemon.log(`xenstored: domain ${this.domid}: ring not read, watch events dropped beyond ${MAX_QUEUED_EVENTS} queued messages`);
        this.dropping = true;
        return;
      }
      if (key !== undefined) this.queuedEvents.add(key);
    }
    this.outq.push(encodeMessage(type, reqId, txId, payload));
    this.outKeys.push(key);
  }

  override flush(): void {
    if (this.ignored) return;
    if (this.drain()) this.mapping.notify();
  }

  override shutdown(): void {
    this.outq.length = 0;
    this.outKeys.length = 0;
    this.queuedEvents.clear();
    this.mapping.unmap?.();
  }

  /** Frames waiting for room in rsp (for tests and the outstanding quota). */
  get pendingOutput(): number {
    return this.outq.length;
  }
}
