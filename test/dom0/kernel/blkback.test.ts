import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machine, makeDomain, ScriptedBlkfront, type Machine } from './fe.ts';
import { GNTTAB_UNMAP_REFS_DELAY_NS } from '../../../src/dom0/kernel/xen_blkif.ts';

const t = suite('blkback');

function image(): string {
  const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'xenode-blk-')), 'disk.img');
  const b = Buffer.alloc(1 << 20);
  b.fill(0xab, 4096, 8192); // sectors 8..15
  fs.writeFileSync(p, b);
  return p;
}

function connected(m: Machine, persistent = true) {
  const bf = new ScriptedBlkfront(m, makeDomain(m));
  const img = image();
  bf.add(img);
  m.run(() => m.tool.read(`${bf.be}/state`) === '2');
  return { bf, img };
}

function online(m: Machine, bf: ScriptedBlkfront, persistent = true) {
  m.hotplug('online', 'vbd', bf.be);
  bf.connect(persistent);
  m.run(() => m.tool.read(`${bf.be}/state`) === '4');
  m.run();
}

t('vbd handshake, key by key; the xenblkd thread is named <domid>.<dev>-<ring>', () => {
  const m = machine();
  const { bf } = connected(m);
  const be = bf.be;
  assert.is(m.tool.read(`${be}/state`), '2');
  assert.is(m.tool.read(`${be}/feature-max-indirect-segments`), '256');
  assert.is(m.tool.read(`${be}/multi-queue-max-queues`), '1');
  assert.is(m.tool.read(`${be}/max-ring-page-order`), '4');
  online(m, bf);
  assert.is(m.tool.read(`${be}/state`), '4');
  assert.is(m.tool.read(`${be}/physical-device`), '7:0');
  assert.is(m.tool.read(`${be}/sectors`), '2048');
  assert.is(m.tool.read(`${be}/info`), '0');
  assert.is(m.tool.read(`${be}/sector-size`), '512');
  assert.is(m.tool.read(`${be}/physical-sector-size`), '512');
  assert.is(m.tool.read(`${be}/feature-flush-cache`), '1');
  assert.is(m.tool.read(`${be}/feature-persistent`), '1');
  assert.ok(m.k.ps().some((r) => r.command === `[${bf.d.id}.xvda-0]`), m.k.psText());
  assert.equal(m.k.bus.errors, []);
});

t('reads and writes hit the image file; persistent grants stay mapped', () => {
  const m = machine();
  const { bf, img } = connected(m);
  online(m, bf);
  const r = bf.io(0, 8, 1);
  m.run();
  bf.poll();
  assert.equal(bf.responses, [{ id: 1n, operation: 0, status: 0 }]);
  assert.is(r[0], 0xab);
  bf.io(1, 100, 2, 0x5a);
  m.run();
  bf.poll();
  assert.is(bf.responses[1]!.status, 0);
  assert.is(fs.readFileSync(img)[100 * 512 + 7], 0x5a);
  const ring = [...m.k.blkback.blkifs][0]!.rings[0]!;
  assert.is(ring.persistent_gnts.size, 2);
  assert.is(m.dom0.gnttab.mappedCount, 3, 'ring + two persistent grants');
  // out of range: error response
  bf.io(0, 4096, 3);
  m.run();
  bf.poll();
  assert.is(bf.responses[2]!.status, -1);
});

function destroy(m: Machine, bf: ScriptedBlkfront) {
  m.tool.rm(bf.fe);
  m.tool.tx({ [`${bf.be}/online`]: '0', [`${bf.be}/state`]: '5' });
  m.hv.destroyDomain(bf.d.id);
}

t('stall case 2: disconnect waits for in-flight I/O on a hung backing store; resume releases it', () => {
  const m = machine();
  const { bf } = connected(m);
  online(m, bf);
  m.k.blkback.queue.stall();
  bf.io(1, 0, 9, 1);
  m.run(undefined, 1e9);
  assert.is(m.k.blkback.inflight, 1);
  destroy(m, bf);
  m.run(undefined, 20e9);
  const st = m.k.xenwatch.default.kt.thread.stack();
  assert.equal(st.slice(0, 5), ['xen_blkif_disconnect', 'xen_blkbk_remove', 'xenbus_dev_remove', 'device_unregister', 'frontend_changed'], st.join(' '));
  assert.is(m.k.xenwatch.default.kt.state, 'D');
  m.k.blkback.queue.resume();
  m.run();
  assert.is(m.k.blkback.inflight, 0);
  assert.is(m.k.xenwatch.default.kt.state, 'S');
  assert.is(m.k.bus.devices.size, 0);
  assert.is(m.hv.domain(bf.d.id), undefined);
});

t('stall case 2 with the current -EBUSY disconnect: no stall', () => {
  const m = machine({ blkback: { disconnect: 'ebusy' } });
  const { bf } = connected(m);
  online(m, bf);
  m.k.blkback.queue.stall();
  bf.io(1, 0, 9, 1);
  m.run(undefined, 1e9);
  destroy(m, bf);
  m.run(undefined, 20e9);
  assert.is(m.k.xenwatch.default.kt.state, 'S');
  m.k.blkback.queue.resume();
  m.run();
});

t('stall case 3: a persistent grant page held by the block layer: unmap retries every 5 ms × (age+1) until released', () => {
  const m = machine();
  const { bf } = connected(m);
  online(m, bf);
  bf.io(0, 8, 1);
  m.run();
  assert.ok(m.k.blkback.holdPersistentGrant());
  const ring = [...m.k.blkback.blkifs][0]!.rings[0]!;
  destroy(m, bf);
  const t0 = m.sim.now;
  m.run(undefined, 1e9);
  const st = m.k.xenwatch.default.kt.thread.stack();
  assert.equal(st.slice(0, 5), ['wait_for_completion', 'gnttab_unmap_refs_sync', 'free_persistent_gnts', 'xen_blkbk_free_caches', 'xen_blkif_disconnect'], st.join(' '));
  assert.is(m.k.xenwatch.default.kt.state, 'D');
  // Σ 5 ms × k for k = 1..n ≤ 1 s → n = 19 retries
  assert.is(ring.unmapRetries, 20);
  assert.ok(m.sim.now - t0 >= GNTTAB_UNMAP_REFS_DELAY_NS);
  m.k.blkback.releasePersistentGrants();
  m.run();
  assert.is(m.k.xenwatch.default.kt.state, 'S');
  assert.is(ring.persistent_gnts.size, 0);
  assert.is(m.hv.domain(bf.d.id), undefined);
});

t.run();
