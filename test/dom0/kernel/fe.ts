// A scripted frontend (test-only): a domU with no running code whose shared
// pages, grants and event channel are driven from the test, through the same
// xenstore, grant and evtchn APIs a real netfront/blkfront uses. It also plays
// libxl's part (device add/remove keys) and the hotplug script.

import { Hypervisor } from '../../../src/xen/hypervisor.ts';
import type { Domain } from '../../../src/xen/domain.ts';
import { Xenstored } from '../../../src/dom0/xenstored/xenstored.ts';
import { Sim } from '../../../src/sim/index.ts';
import { Dom0Kernel, type Dom0KernelOptions } from '../../../src/dom0/kernel/kernel.ts';
import { FrontRing } from '../../../src/abi/ring.ts';
import { NETIF_RX_ENTRY, NETIF_TX_ENTRY, NETTXF, decodeRxResponse, decodeTxResponse, encodeRxRequest, encodeTxRequest, type NetifTxResponse } from '../../../src/abi/netif.ts';
import { BLKIF_ENTRY, decodeResponse, encodeRequest, type BlkifResponse } from '../../../src/abi/blkif.ts';
import { Tool, spawn } from './helpers.ts';
import { attachDom0Events } from '../../../src/dom0/kernel/events.ts';

export function machine(opts: Dom0KernelOptions & { seed?: number } = {}) {
  const sim = new Sim({ seed: opts.seed ?? 1 });
  const hv = new Hypervisor(sim, { hangOracle: false });
  const dom0 = hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 64 << 10, vcpus: 1, host: true });
  const xs = new Xenstored();
  const tool = new Tool(xs);
  const k = new Dom0Kernel({ sim, dom0: attachDom0Events(dom0), xenstored: xs, hv }, opts);
  k.start();
  sim.runUntil(() => k.ready);
  const run = (cond: () => boolean = () => false, ns = 120e9) => sim.runUntil(cond, { until: sim.now + ns });
  /** Run a kernel coroutine (hotplug script) on a user thread to completion. */
  const hotplug = (action: 'online' | 'offline', kind: 'vif' | 'vbd', bePath: string) => {
    const j = spawn(k.kthreads, 'hotplug', () => k.hotplug(action, kind, bePath));
    run(() => j.done);
    return j;
  };
  return { sim, hv, dom0, xs, tool, k, run, hotplug };
}
export type Machine = ReturnType<typeof machine>;

/** xl create's domain part: /local/domain/<id>, introduce. */
export function makeDomain(m: Machine, name = 'guest'): Domain {
  const d = m.hv.createDomain({ name, memKiB: 4096, vcpus: 1 });
  m.tool.tx({ [`/local/domain/${d.id}/name`]: name, [`/local/domain/${d.id}/domid`]: String(d.id) });
  m.xs.run(() => m.xs.introduce(d.id, 0, 1));
  return d;
}

let refSeq = 8;
/** Grant a fresh page of `d` to dom0; returns { ref, page }. */
export function grantPage(d: Domain, gpfn: number, readonly = false) {
  const ref = refSeq++;
  d.gnttab.grantAccess(ref, 0, gpfn, readonly);
  return { ref, page: d.physmap.frame(gpfn) };
}

export class ScriptedNetfront {
  readonly fe: string;
  readonly be: string;
  tx!: FrontRing;
  rx!: FrontRing;
  port = 0;
  private gpfn = 10;
  readonly txResponses: NetifTxResponse[] = [];
  readonly received: Uint8Array[] = [];
  private rxBufs = new Map<number, ArrayBuffer>();

  constructor(readonly m: Machine, readonly d: Domain, readonly devid = 0) {
    this.fe = `/local/domain/${d.id}/device/vif/${devid}`;
    this.be = `/local/domain/0/backend/vif/${d.id}/${devid}`;
  }

  /** libxl__device_generic_add for a vif (docs/architecture.md §5.3 step 1). */
  add(mac = '00:16:3e:00:00:0' + this.d.id): void {
    const { be, fe } = this;
    this.m.tool.tx({
      [`${be}/frontend`]: fe, [`${be}/frontend-id`]: String(this.d.id), [`${be}/online`]: '1', [`${be}/state`]: '1',
      [`${be}/script`]: '/etc/xen/scripts/vif-bridge', [`${be}/mac`]: mac, [`${be}/bridge`]: 'xenbr0', [`${be}/handle`]: String(this.devid),
      [`${be}/type`]: 'vif', [`${be}/hotplug-status`]: '',
      [`${fe}/backend`]: be, [`${fe}/backend-id`]: '0', [`${fe}/state`]: '1', [`${fe}/handle`]: String(this.devid), [`${fe}/mac`]: mac, [`${fe}/trusted`]: '1',
    });
  }

  /** Mini-OS style: rings, grants, event channel and state 4 in one transaction. */
  connect(): void {
    const d = this.d;
    const t = grantPage(d, this.gpfn++), r = grantPage(d, this.gpfn++);
    this.tx = FrontRing.init(t.page, NETIF_TX_ENTRY);
    this.rx = FrontRing.init(r.page, NETIF_RX_ENTRY);
    this.port = d.evtchn.allocUnbound(0);
    for (let i = 0; i < 8; i++) this.postRx(i);
    this.m.tool.tx({
      [`${this.fe}/tx-ring-ref`]: String(t.ref), [`${this.fe}/rx-ring-ref`]: String(r.ref), [`${this.fe}/event-channel`]: String(this.port),
      [`${this.fe}/request-rx-copy`]: '1', [`${this.fe}/feature-rx-notify`]: '1', [`${this.fe}/feature-sg`]: '1', [`${this.fe}/state`]: '4',
    });
  }

  postRx(id: number): void {
    const g = grantPage(this.d, this.gpfn++);
    this.rxBufs.set(id, g.page);
    encodeRxRequest(this.rx.sring.dv, this.rx.nextRequest(), { id, gref: g.ref });
    this.rx.pushRequestsAndCheckNotify();
  }

  /** Send one packet of `size` bytes in one slot (dst broadcast so the bridge floods it). */
  send(size: number, id = 0): void {
    const g = grantPage(this.d, this.gpfn++, true);
    const b = new Uint8Array(g.page);
    b.fill(0xff, 0, 6);
    b.set([0x00, 0x16, 0x3e, 0, 0, this.d.id], 6);
    for (let i = 12; i < size; i++) b[i] = i & 0xff;
    encodeTxRequest(this.tx.sring.dv, this.tx.nextRequest(), { gref: g.ref, offset: 0, flags: NETTXF.data_validated, id, size });
    if (this.tx.pushRequestsAndCheckNotify()) this.d.evtchn.send(this.port);
  }

  poll(): void {
    while (this.tx.unconsumedResponses() > 0) this.txResponses.push(decodeTxResponse(this.tx.sring.dv, this.tx.nextResponse()));
    while (this.rx.unconsumedResponses() > 0) {
      const r = decodeRxResponse(this.rx.sring.dv, this.rx.nextResponse());
      const page = this.rxBufs.get(r.id)!;
      this.received.push(new Uint8Array(page, r.offset, Math.max(0, r.status)).slice());
    }
  }

  state(side: 'be' | 'fe'): string | undefined {
    return this.m.tool.read(`${side === 'be' ? this.be : this.fe}/state`);
  }
}

export class ScriptedBlkfront {
  readonly fe: string;
  readonly be: string;
  ring!: FrontRing;
  port = 0;
  private gpfn = 200;
  readonly responses: BlkifResponse[] = [];

  constructor(readonly m: Machine, readonly d: Domain, readonly devid = 51712) {
    this.fe = `/local/domain/${d.id}/device/vbd/${devid}`;
    this.be = `/local/domain/0/backend/vbd/${d.id}/${devid}`;
  }

  /** libxl__device_generic_add for a disk (docs/architecture.md §5.3 step 1). */
  add(image: string): void {
    const { be, fe } = this;
    this.m.tool.tx({
      [`${be}/frontend`]: fe, [`${be}/frontend-id`]: String(this.d.id), [`${be}/online`]: '1', [`${be}/removable`]: '0', [`${be}/bootable`]: '1',
      [`${be}/state`]: '1', [`${be}/dev`]: 'xvda', [`${be}/type`]: 'phy', [`${be}/mode`]: 'w', [`${be}/device-type`]: 'disk',
      [`${be}/discard-enable`]: '0', [`${be}/params`]: image, [`${be}/script`]: '/etc/xen/scripts/block',
      [`${fe}/backend`]: be, [`${fe}/backend-id`]: '0', [`${fe}/state`]: '1', [`${fe}/virtual-device`]: String(this.devid),
      [`${fe}/device-type`]: 'disk', [`${fe}/trusted`]: '1', [`${fe}/protocol`]: 'x86_64-abi',
    });
  }

  connect(persistent = true): void {
    const g = grantPage(this.d, this.gpfn++);
    this.ring = FrontRing.init(g.page, BLKIF_ENTRY);
    this.port = this.d.evtchn.allocUnbound(0);
    this.m.tool.tx({
      [`${this.fe}/ring-ref`]: String(g.ref), [`${this.fe}/event-channel`]: String(this.port), [`${this.fe}/protocol`]: 'x86_64-abi',
      [`${this.fe}/feature-persistent`]: persistent ? '1' : '0', [`${this.fe}/state`]: '3',
    });
  }

  /** One request of one page (8 sectors); returns the page. */
  io(op: 0 | 1, sector: number, id: number, fill?: number): Uint8Array {
    const g = grantPage(this.d, this.gpfn++);
    const page = new Uint8Array(g.page);
    if (fill !== undefined) page.fill(fill);
    encodeRequest(this.ring.sring.dv, this.ring.nextRequest(), { operation: op, handle: this.devid, id: BigInt(id), sector_number: BigInt(sector), seg: [{ gref: g.ref, first_sect: 0, last_sect: 7 }] });
    if (this.ring.pushRequestsAndCheckNotify()) this.d.evtchn.send(this.port);
    return page;
  }

  poll(): void {
    while (this.ring.unconsumedResponses() > 0) this.responses.push(decodeResponse(this.ring.sring.dv, this.ring.nextResponse()));
  }
}
