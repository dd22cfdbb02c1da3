// Fuzz target `netif`: a hostile netfront. dom0's kernel (netback, the bridge)
// runs as in the machine; the guest side is driven from here, as a domU with
// no code of its own: in each episode a fresh domain gets a vif the way libxl
// adds one, connects its rings properly, then puts random TX and RX requests
// on them (random grant refs, offsets, sizes, flags, ids, chains) and now and
// then a producer index far ahead of the consumer. A bystander domain with a
// well-behaved vif stays connected across every episode. At the end of an
// episode the hostile domain is destroyed and its device removed.
//
// Invariants: no kernel oops and no hypervisor internal error after every
// request batch; after each episode dom0 maps none of the dead domain's
// grants, and the bystander's frame is answered OKAY.
import { FrontRing } from '../../abi/ring.ts';
import { NETIF_RSP, NETIF_RX_ENTRY, NETIF_TX_ENTRY, NETTXF, decodeTxResponse, encodeRxRequest, encodeTxRequest } from '../../abi/netif.ts';
import { Choices } from '../../sim/index.ts';
import type { Domain } from '../../xen/index.ts';
import type { FuzzBudget, FuzzResult } from './types.ts';
import { dom0Host, type Host } from './dom0_host.ts';

export const NETIF_INVARIANTS = [
  'no dom0 kernel oops, no hypervisor internal error',
  "after each episode dom0 maps none of the destroyed guest's grants",
  "the bystander's vif answers a frame OKAY after each episode",
];


class Vif {
  readonly fe: string;
  readonly be: string;
  tx!: FrontRing;
  rx!: FrontRing;
  port = 0;
  private gpfn = 10;
  constructor(readonly h: Host, readonly d: Domain) {
    this.fe = `/local/domain/${d.id}/device/vif/0`;
    this.be = `/local/domain/0/backend/vif/${d.id}/0`;
  }
  /** Grant a page: gpfns 10..19 for the rings and first RX buffers, then data pages cycling over 20..919 (never a ring page); ref = gpfn - 2. */
  grant(readonly = false): { ref: number; page: ArrayBuffer } {
    const n = this.gpfn++;
    const gpfn = n < 20 ? n : 20 + ((n - 20) % 900);
    // One ref per page, so refs stay within the table however long the run (a bystander's data page is free again once its response came).
    const ref = gpfn - 2;
    this.d.gnttab.grantAccess(ref, 0, gpfn, readonly);
    return { ref, page: this.d.physmap.frame(gpfn) };
  }
  /** libxl's add, the hotplug script, a Mini-OS style connect; true once the backend is Connected. */
  up(): boolean {
    const { h, d, be, fe } = this;
    h.tx({ [`/local/domain/${d.id}/name`]: d.name, [`/local/domain/${d.id}/domid`]: String(d.id) });
    h.xs.run(() => h.xs.introduce(d.id, 0, 1));
    const mac = `00:16:3e:00:${(d.id >> 8).toString(16).padStart(2, '0')}:${(d.id & 0xff).toString(16).padStart(2, '0')}`;
    h.tx({
      [`${be}/frontend`]: fe, [`${be}/frontend-id`]: String(d.id), [`${be}/online`]: '1', [`${be}/state`]: '1',
      [`${be}/script`]: '/etc/xen/scripts/vif-bridge', [`${be}/mac`]: mac, [`${be}/bridge`]: 'xenbr0', [`${be}/handle`]: '0', [`${be}/type`]: 'vif', [`${be}/hotplug-status`]: '',
      [`${fe}/backend`]: be, [`${fe}/backend-id`]: '0', [`${fe}/state`]: '1', [`${fe}/handle`]: '0', [`${fe}/mac`]: mac,
    });
    if (!h.run(() => h.read(`${be}/state`) === '2', 1e9)) return false;
    h.hotplug(be);
    const t = this.grant(), r = this.grant();
    this.tx = FrontRing.init(t.page, NETIF_TX_ENTRY);
    this.rx = FrontRing.init(r.page, NETIF_RX_ENTRY);
    this.port = d.evtchn.allocUnbound(0);
    for (let i = 0; i < 8; i++) encodeRxRequest(this.rx.sring.dv, this.rx.nextRequest(), { id: i, gref: this.grant().ref });
    this.rx.pushRequestsAndCheckNotify();
    h.tx({
      [`${fe}/tx-ring-ref`]: String(t.ref), [`${fe}/rx-ring-ref`]: String(r.ref), [`${fe}/event-channel`]: String(this.port),
      [`${fe}/request-rx-copy`]: '1', [`${fe}/feature-rx-notify`]: '1', [`${fe}/feature-sg`]: '1', [`${fe}/state`]: '4',
    });
    return h.run(() => h.read(`${be}/state`) === '4', 1e9);
  }
  /** A well-formed 200-byte broadcast frame; the TX response's status. */
  sendGood(): number | undefined {
    const g = this.grant(true);
    const b = new Uint8Array(g.page);
    b.fill(0xff, 0, 6);
    for (let i = 12; i < 200; i++) b[i] = i & 0xff;
    encodeTxRequest(this.tx.sring.dv, this.tx.nextRequest(), { gref: g.ref, offset: 0, flags: NETTXF.data_validated, id: 1, size: 200 });
    if (this.tx.pushRequestsAndCheckNotify()) this.d.evtchn.send(this.port);
    let status: number | undefined;
    this.h.run(() => {
      while (this.tx.unconsumedResponses() > 0) status = decodeTxResponse(this.tx.sring.dv, this.tx.nextResponse()).status;
      return status !== undefined;
    }, 100e6);
    return status;
  }
}

export function fuzzNetif(seed: number, budget: FuzzBudget): FuzzResult {
  const r = Choices.derive(seed, 'fuzz netif');
  const h = dom0Host(seed);
  const t0 = performance.now();
  let frames = 0;
  let episodes = 0;
  const seen = { tx_packets: 0, tx_errors: 0, tx_dropped: 0 };
  const result = (failure?: string): FuzzResult => ({
    target: 'netif', frames, seconds: (performance.now() - t0) / 1000, invariants: NETIF_INVARIANTS, ...(failure ? { failure } : {}),
    notes: [`episodes (a fresh hostile domain each): ${episodes}; netback counted ${seen.tx_packets} packets sent on, ${seen.tx_errors} TX errors, ${seen.tx_dropped} dropped`],
  });
  const bystander = new Vif(h, h.hv.createDomain({ name: 'bystander', memKiB: 4096, vcpus: 1 }));
  if (!bystander.up()) return result('the bystander did not connect');
  while (frames < budget.count && performance.now() - t0 < budget.seconds * 1000) {
    episodes++;
    const d = h.hv.createDomain({ name: `hostile${episodes}`, memKiB: 4096, vcpus: 1 });
    const v = new Vif(h, d);
    if (!v.up()) return result(`episode ${episodes}: the hostile vif did not connect (backend state ${h.read(`${v.be}/state`)})`);
    const n = 20 + r.choose(200);
    for (let i = 0; i < n && frames < budget.count; i++) {
      // A halted backend leaves a ring full: the episode ends there.
      if (v.tx.full() || v.rx.full()) break;
      frames++;
      const k = r.choose(40);
      if (k === 0) {
        // A producer far ahead: netback must call it a bogus ring, not loop or read stale slots.
        v.tx.sring.req_prod = (v.tx.sring.req_prod + 257 + r.choose(1 << 16)) >>> 0;
      } else if (k < 4) {
        encodeRxRequest(v.rx.sring.dv, v.rx.nextRequest(), { id: r.choose(1 << 16), gref: r.oneIn(2) ? v.grant().ref : r.choose(1 << 20) });
        v.rx.pushRequestsAndCheckNotify();
      } else {
        const g = r.oneIn(3) ? r.choose(1 << 20) : v.grant(r.oneIn(2)).ref;
        const size = r.oneIn(4) ? r.choose(1 << 16) : r.choose(1600);
        const offset = r.oneIn(4) ? r.choose(1 << 16) : r.choose(128);
        encodeTxRequest(v.tx.sring.dv, v.tx.nextRequest(), { gref: g, offset, flags: r.choose(16), id: r.choose(1 << 16), size });
        v.tx.pushRequestsAndCheckNotify();
      }
      if (r.oneIn(4)) d.evtchn.send(v.port);
      if (r.oneIn(8)) h.run(() => false, 1e6);
      const bad = h.healthy();
      if (bad) return result(`episode ${episodes}, request ${i}: ${bad}`);
    }
    h.run(() => false, 5e6);
    const st0 = h.k.netback.vifs.get(`vif${d.id}.0`)?.stats;
    if (st0) for (const key of ['tx_packets', 'tx_errors', 'tx_dropped'] as const) seen[key] += st0[key];
    const held = h.destroy(d.id, v.fe, v.be);
    const bad = h.healthy();
    if (bad) return result(`episode ${episodes} teardown: ${bad}`);
    if (held !== 0) return result(`episode ${episodes}: dom0 still maps ${held} grant(s) of the destroyed domain`);
    const st = bystander.sendGood();
    if (st !== NETIF_RSP.OKAY) {
      const s0 = bystander.tx.sring;
      const vif = h.k.netback.vifs.get(`vif${bystander.d.id}.0`);
      return result(`episode ${episodes}: the bystander's frame got ${st} (backend state ${h.read(`${bystander.be}/state`)}, tx req_prod ${s0.req_prod} rsp_prod ${s0.rsp_prod}, vif ${vif ? JSON.stringify(vif.stats) : 'gone'})`);
    }
  }
  return result();
}
