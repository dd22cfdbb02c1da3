// Fuzz target `blkif`: a hostile blkfront, the netif target's twin. Each
// episode a fresh domain gets a vbd on its own 1 MiB image file (added as
// libxl does, the block hotplug script run), connects its ring properly, then
// puts requests on it whose bytes are random where it matters: operation,
// segment count (up to 255), sector numbers, first/last sectors, grant refs,
// ids, and now and then a producer index far ahead. Then the domain is
// destroyed and its device removed. A bystander vbd stays connected.
//
// Invariants: no dom0 kernel oops and no hypervisor internal error after every
// request; after each episode dom0 maps none of the dead guest's grants, and
// the bystander's one-page write is answered OKAY.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FrontRing } from '../../abi/ring.ts';
import { BLKIF_ENTRY, BLKIF_RSP, decodeResponse, encodeRequest } from '../../abi/blkif.ts';
import { Choices } from '../../sim/index.ts';
import type { Domain } from '../../xen/index.ts';
import { dom0Host, type Host } from './dom0_host.ts';
import type { FuzzBudget, FuzzResult } from './types.ts';

export const BLKIF_INVARIANTS = [
  'no dom0 kernel oops, no hypervisor internal error',
  "after each episode dom0 maps none of the destroyed guest's grants",
  "the bystander's vbd answers a write OKAY after each episode",
];

class Vbd {
  readonly fe: string;
  readonly be: string;
  ring!: FrontRing;
  port = 0;
  private n = 10;
  constructor(readonly h: Host, readonly d: Domain, readonly image: string) {
    this.fe = `/local/domain/${d.id}/device/vbd/51712`;
    this.be = `/local/domain/0/backend/vbd/${d.id}/51712`;
  }
  /** gpfn 10 is the ring; data pages cycle over 11..910; ref = gpfn - 2. */
  grant(): { ref: number; page: ArrayBuffer } {
    const n = this.n++;
    const gpfn = n < 11 ? n : 11 + ((n - 11) % 900);
    this.d.gnttab.grantAccess(gpfn - 2, 0, gpfn, false);
    return { ref: gpfn - 2, page: this.d.physmap.frame(gpfn) };
  }
  up(): boolean {
    const { h, d, be, fe } = this;
    h.tx({ [`/local/domain/${d.id}/name`]: d.name, [`/local/domain/${d.id}/domid`]: String(d.id) });
    h.xs.run(() => h.xs.introduce(d.id, 0, 1));
    h.tx({
      [`${be}/frontend`]: fe, [`${be}/frontend-id`]: String(d.id), [`${be}/online`]: '1', [`${be}/removable`]: '0', [`${be}/bootable`]: '1',
      [`${be}/state`]: '1', [`${be}/dev`]: 'xvda', [`${be}/type`]: 'phy', [`${be}/mode`]: 'w', [`${be}/device-type`]: 'disk',
      [`${be}/discard-enable`]: '0', [`${be}/params`]: this.image, [`${be}/script`]: '/etc/xen/scripts/block',
      [`${fe}/backend`]: be, [`${fe}/backend-id`]: '0', [`${fe}/state`]: '1', [`${fe}/virtual-device`]: '51712',
      [`${fe}/device-type`]: 'disk', [`${fe}/protocol`]: 'x86_64-abi',
    });
    if (!h.run(() => h.read(`${be}/state`) === '2', 1e9)) return false;
    h.hotplug(be, 'vbd');
    const g = this.grant();
    this.ring = FrontRing.init(g.page, BLKIF_ENTRY);
    this.port = d.evtchn.allocUnbound(0);
    h.tx({
      [`${fe}/ring-ref`]: String(g.ref), [`${fe}/event-channel`]: String(this.port), [`${fe}/protocol`]: 'x86_64-abi',
      [`${fe}/feature-persistent`]: '1', [`${fe}/state`]: '3',
    });
    return h.run(() => h.read(`${be}/state`) === '4', 1e9);
  }
  /** One well-formed one-page write at sector 0; the response's status. */
  writeGood(id: bigint): number | undefined {
    const g = this.grant();
    new Uint8Array(g.page).fill(0x5a);
    encodeRequest(this.ring.sring.dv, this.ring.nextRequest(), { operation: 1, handle: 51712, id, sector_number: 0n, seg: [{ gref: g.ref, first_sect: 0, last_sect: 7 }] });
    if (this.ring.pushRequestsAndCheckNotify()) this.d.evtchn.send(this.port);
    let status: number | undefined;
    this.h.run(() => {
      while (this.ring.unconsumedResponses() > 0) {
        const r = decodeResponse(this.ring.sring.dv, this.ring.nextResponse());
        if (r.id === id) status = r.status;
      }
      return status !== undefined;
    }, 200e6);
    return status;
  }
}

function imageFile(dir: string, name: string): string {
  const p = path.join(dir, `${name}.img`);
  fs.writeFileSync(p, Buffer.alloc(1 << 20));
  return p;
}

export function fuzzBlkif(seed: number, budget: FuzzBudget): FuzzResult {
  const r = Choices.derive(seed, 'fuzz blkif');
  const h = dom0Host(seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenode-fuzz-blk-'));
  const t0 = performance.now();
  let frames = 0;
  let episodes = 0;
  const result = (failure?: string): FuzzResult => {
    fs.rmSync(dir, { recursive: true, force: true });
    return {
      target: 'blkif', frames, seconds: (performance.now() - t0) / 1000, invariants: BLKIF_INVARIANTS, ...(failure ? { failure } : {}),
      notes: [`episodes (a fresh hostile domain each): ${episodes}`],
    };
  };
  const bystander = new Vbd(h, h.hv.createDomain({ name: 'bystander', memKiB: 4096, vcpus: 1 }), imageFile(dir, 'bystander'));
  if (!bystander.up()) return result('the bystander did not connect');
  let goodId = 1n << 40n;
  while (frames < budget.count && performance.now() - t0 < budget.seconds * 1000) {
    episodes++;
    const d = h.hv.createDomain({ name: `hostile${episodes}`, memKiB: 4096, vcpus: 1 });
    const img = imageFile(dir, 'hostile');
    const v = new Vbd(h, d, img);
    if (!v.up()) return result(`episode ${episodes}: the hostile vbd did not connect (backend state ${h.read(`${v.be}/state`)})`);
    const n = 10 + r.choose(60);
    for (let i = 0; i < n && frames < budget.count; i++) {
      // A halted or slow backend leaves the ring full: the episode ends there.
      if (v.ring.full()) break;
      frames++;
      if (r.oneIn(40)) {
        v.ring.sring.req_prod = (v.ring.sring.req_prod + 33 + r.choose(1 << 16)) >>> 0;
      } else {
        const slot = v.ring.nextRequest();
        const dv = v.ring.sring.dv;
        const g = v.grant();
        encodeRequest(dv, slot, { operation: r.choose(4), handle: 51712, id: BigInt(r.choose(1 << 30)), sector_number: BigInt(r.choose(4096)), seg: [{ gref: g.ref, first_sect: 0, last_sect: 7 }] });
        // Then break it where the backend must check: random bytes over the request's first 112 bytes.
        for (let j = 0, m = r.choose(6); j < m; j++) dv.setUint8(slot + r.choose(BLKIF_ENTRY), r.choose(256));
        v.ring.pushRequestsAndCheckNotify();
      }
      if (r.oneIn(3)) d.evtchn.send(v.port);
      if (r.oneIn(6)) h.run(() => false, 1e6);
      const bad = h.healthy();
      if (bad) return result(`episode ${episodes}, request ${i}: ${bad}`);
    }
    h.run(() => false, 5e6);
    const held = h.destroy(d.id, v.fe, v.be);
    const bad = h.healthy();
    if (bad) return result(`episode ${episodes} teardown: ${bad}`);
    if (held !== 0) return result(`episode ${episodes}: dom0 still maps ${held} grant(s) of the destroyed domain`);
    const st = bystander.writeGood(goodId++);
    if (st !== BLKIF_RSP.OKAY) return result(`episode ${episodes}: the bystander's write got ${st} (backend state ${h.read(`${bystander.be}/state`)})`);
  }
  return result();
}
