// Host-driven frontends for a kernel-less domain: used by the xenwatch-stall
// scenario when the unikernel frontends (kernels/netfront.ts,
// kernels/blkfront.ts) are not in the tree. Each is a sim thread acting as the
// domU: it talks to xenstore *as that domain* (an unprivileged connection, so
// the perms libxl set are checked), grants its own pages to dom0, allocates
// its event channel, and drives the ring with the public ABI codecs. Traffic:
// netfront sends one 1500-byte packet per interval (past the 128 bytes netback
// copies, so the rest is grant-mapped: a zerocopy skb); blkfront keeps a few
// one-page writes in flight, reusing its data grants (persistent grants).

import { SimThread, sleep, type Co } from '../../sim/index.ts';
import { XenbusState } from '../../abi/xen.ts';
import { FrontRing } from '../../abi/ring.ts';
import { NETIF_RX_ENTRY, NETIF_TX_ENTRY, NETTXF, decodeTxResponse, encodeRxRequest, encodeTxRequest, decodeRxResponse } from '../../abi/netif.ts';
import { BLKIF_ENTRY, BLKIF_OP, decodeResponse, encodeRequest } from '../../abi/blkif.ts';
import { DomainConnection } from '../toolstack/dm.ts';
import { XsClient } from '../toolstack/xs.ts';
import type { Host } from '../host.ts';

const MS = 1_000_000;

export interface FrontendStats {
  state: number;
  sent: number;
  completed: number;
  errors: number;
}

function domXs(host: Host, domid: number): { xs: XsClient; close(): void } {
  const conn = new DomainConnection(host.xsd, domid);
  const xs = new XsClient({
    send: (f) => conn.send(f),
    get onFrame() {
      return conn.onMessage;
    },
    set onFrame(cb) {
      conn.onMessage = cb;
    },
  });
  return { xs, close: () => conn.close() };
}

function* waitBackend(host: Host, xs: XsClient, bePath: string, want: number): Co<boolean> {
  for (;;) {
    const d = host.hv.domain(xsDomid(bePath));
    if (!d || d.dying) return false;
    const s = Number((yield* xs.read(0, `${bePath}/state`)) ?? '-1');
    if (s === want) return true;
    yield* sleep(1 * MS);
  }
}

function xsDomid(bePath: string): number {
  return Number(bePath.split('/')[6]);
}

/** A Mini-OS-like netfront for domain `domid`, device 0. */
export function startHostNetfront(host: Host, domid: number, opts: { intervalNs?: number; size?: number } = {}): FrontendStats {
  const stats: FrontendStats = { state: XenbusState.Initialising, sent: 0, completed: 0, errors: 0 };
  const fe = `/local/domain/${domid}/device/vif/0`;
  const be = `/local/domain/0/backend/vif/${domid}/0`;
  const interval = opts.intervalNs ?? 1 * MS;
  const size = opts.size ?? 1500;
  new SimThread(host.sim, host.allocUserPid(), `netfront-d${domid}`, function* (): Co {
    const { xs, close } = domXs(host, domid);
    try {
      if (!(yield* waitBackend(host, xs, be, XenbusState.InitWait))) return;
      const d = host.hv.domain(domid)!;
      let ref = 8;
      let gpfn = 100;
      const grant = (ro = false) => {
        const r = ref++;
        const g = gpfn++;
        d.gnttab.grantAccess(r, 0, g, ro);
        return { ref: r, page: d.physmap.frame(g) };
      };
      const t = grant();
      const r = grant();
      const tx = FrontRing.init(t.page, NETIF_TX_ENTRY);
      const rx = FrontRing.init(r.page, NETIF_RX_ENTRY);
      const port = d.evtchn.allocUnbound(0);
      for (let i = 0; i < 16; i++) {
        encodeRxRequest(rx.sring.dv, rx.nextRequest(), { id: i, gref: grant().ref });
      }
      rx.pushRequestsAndCheckNotify();
      const txBufs = Array.from({ length: 64 }, () => grant(true));
      yield* xs.transaction(function* (tr) {
        yield* xs.write(tr, `${fe}/tx-ring-ref`, String(t.ref));
        yield* xs.write(tr, `${fe}/rx-ring-ref`, String(r.ref));
        yield* xs.write(tr, `${fe}/event-channel`, String(port));
        yield* xs.write(tr, `${fe}/request-rx-copy`, '1');
        yield* xs.write(tr, `${fe}/feature-rx-notify`, '1');
        yield* xs.write(tr, `${fe}/feature-sg`, '1');
        yield* xs.write(tr, `${fe}/state`, String(XenbusState.Connected));
      });
      stats.state = XenbusState.Connected;
      const free = txBufs.map((_, i) => i);
      for (let n = 0; ; n++) {
        const dd = host.hv.domain(domid);
        if (!dd || dd.dying) return;
        while (tx.unconsumedResponses() > 0) {
          const rsp = decodeTxResponse(tx.sring.dv, tx.nextResponse());
          if (rsp.status === 0) stats.completed++;
          else stats.errors++;
          free.push(rsp.id);
        }
        while (rx.unconsumedResponses() > 0) {
          const rr = decodeRxResponse(rx.sring.dv, rx.nextResponse());
          encodeRxRequest(rx.sring.dv, rx.nextRequest(), { id: rr.id, gref: 8 + 2 + rr.id });
          rx.pushRequestsAndCheckNotify();
        }
        const id = free.shift();
        if (id !== undefined && !tx.full()) {
          const b = new Uint8Array(txBufs[id]!.page);
          b.fill(0xff, 0, 6);
          b.set([0x00, 0x16, 0x3e, 0, 0, domid & 0xff], 6);
          for (let i = 12; i < size; i++) b[i] = (i + n) & 0xff;
          encodeTxRequest(tx.sring.dv, tx.nextRequest(), { gref: txBufs[id]!.ref, offset: 0, flags: NETTXF.data_validated, id, size });
          stats.sent++;
          if (tx.pushRequestsAndCheckNotify()) d.evtchn.send(port);
        } else if (id !== undefined) free.unshift(id);
        yield* sleep(interval);
      }
    } finally {
      close();
    }
  }, ['ret_from_fork'], domid);
  return stats;
}

/** A blkfront for domain `domid`, xvda: persistent grants, a few one-page writes in flight. */
export function startHostBlkfront(host: Host, domid: number, opts: { intervalNs?: number; depth?: number } = {}): FrontendStats {
  const stats: FrontendStats = { state: XenbusState.Initialising, sent: 0, completed: 0, errors: 0 };
  const fe = `/local/domain/${domid}/device/vbd/51712`;
  const be = `/local/domain/0/backend/vbd/${domid}/51712`;
  const interval = opts.intervalNs ?? 1 * MS;
  const depth = opts.depth ?? 4;
  new SimThread(host.sim, host.allocUserPid(), `blkfront-d${domid}`, function* (): Co {
    const { xs, close } = domXs(host, domid);
    try {
      if (!(yield* waitBackend(host, xs, be, XenbusState.InitWait))) return;
      const d = host.hv.domain(domid)!;
      let ref = 8;
      let gpfn = 100;
      const grant = () => {
        const r = ref++;
        const g = gpfn++;
        d.gnttab.grantAccess(r, 0, g);
        return { ref: r, page: d.physmap.frame(g) };
      };
      const rg = grant();
      const ring = FrontRing.init(rg.page, BLKIF_ENTRY);
      const port = d.evtchn.allocUnbound(0);
      const bufs = Array.from({ length: depth }, () => grant());
      yield* xs.transaction(function* (tr) {
        yield* xs.write(tr, `${fe}/ring-ref`, String(rg.ref));
        yield* xs.write(tr, `${fe}/event-channel`, String(port));
        yield* xs.write(tr, `${fe}/protocol`, 'x86_64-abi');
        yield* xs.write(tr, `${fe}/feature-persistent`, '1');
        yield* xs.write(tr, `${fe}/state`, String(XenbusState.Initialised));
      });
      if (!(yield* waitBackend(host, xs, be, XenbusState.Connected))) return;
      yield* xs.write(0, `${fe}/state`, String(XenbusState.Connected));
      stats.state = XenbusState.Connected;
      const free = bufs.map((_, i) => i);
      for (let n = 0; ; n++) {
        const dd = host.hv.domain(domid);
        if (!dd || dd.dying) return;
        while (ring.unconsumedResponses() > 0) {
          const rsp = decodeResponse(ring.sring.dv, ring.nextResponse());
          if (rsp.status === 0) stats.completed++;
          else stats.errors++;
          free.push(Number(rsp.id));
        }
        const id = free.shift();
        if (id !== undefined) {
          new Uint8Array(bufs[id]!.page).fill(n & 0xff);
          encodeRequest(ring.sring.dv, ring.nextRequest(), {
            operation: BLKIF_OP.WRITE, handle: 51712, id: BigInt(id), sector_number: BigInt((n % 1024) * 8),
            seg: [{ gref: bufs[id]!.ref, first_sect: 0, last_sect: 7 }],
          });
          stats.sent++;
          if (ring.pushRequestsAndCheckNotify()) d.evtchn.send(port);
        }
        yield* sleep(interval);
      }
    } finally {
      close();
    }
  }, ['ret_from_fork'], domid);
  return stats;
}
