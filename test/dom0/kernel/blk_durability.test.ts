// Durability of blkback (issue 11, item 3): a flush reaches stable storage
// (fdatasync of the image) before it is answered; WRITE_BARRIER is served as
// Linux serves it (drain, then a REQ_PREFLUSH write) and advertised as such;
// a bogus req_prod halts the ring with one dmesg line; and kernels/kv.ts's
// acknowledged records survive a SIGKILL of the host process, for real.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BLKIF_OP, encodeRequest } from '../../../src/abi/blkif.ts';
import { grantPage, machine, makeDomain, ScriptedBlkfront, type Machine } from './fe.ts';

const t = suite('blkback durability');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function image(bytes = 1 << 20): string {
  const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'xenode-dur-')), 'disk.img');
  fs.writeFileSync(p, Buffer.alloc(bytes));
  return p;
}

function online(): { m: Machine; bf: ScriptedBlkfront; img: string } {
  const m = machine();
  const bf = new ScriptedBlkfront(m, makeDomain(m));
  const img = image();
  bf.add(img);
  m.run(() => m.tool.read(`${bf.be}/state`) === '2');
  m.hotplug('online', 'vbd', bf.be);
  bf.connect(true);
  m.run(() => m.tool.read(`${bf.be}/state`) === '4');
  m.run();
  return { m, bf, img };
}

/** A request with `op`, and one page of `fill` at `sector` unless `data` is false. */
function request(bf: ScriptedBlkfront, op: number, id: number, sector: number, fill: number, data = true): void {
  const seg = [];
  if (data) {
    const g = grantPage(bf.d, 300 + id);
    new Uint8Array(g.page).fill(fill);
    seg.push({ gref: g.ref, first_sect: 0, last_sect: 7 });
  }
  encodeRequest(bf.ring.sring.dv, bf.ring.nextRequest(), { operation: op, handle: bf.devid, id: BigInt(id), sector_number: BigInt(sector), seg });
  if (bf.ring.pushRequestsAndCheckNotify()) bf.d.evtchn.send(bf.port);
}

t('advertised: feature-flush-cache and feature-barrier, both served', () => {
  const { m, bf } = online();
  assert.is(m.tool.read(`${bf.be}/feature-flush-cache`), '1');
  assert.is(m.tool.read(`${bf.be}/feature-barrier`), '1');
});

t('FLUSH_DISKCACHE is answered only after fdatasync of the image', () => {
  const { m, bf } = online();
  const disk = [...m.k.blkback.blkifs][0]!.vbd!.disk;
  const order: string[] = [];
  const sync = disk.flush.bind(disk);
  disk.flush = () => {
    bf.poll();
    order.push(`sync with ${bf.responses.length} responses`);
    sync();
  };
  request(bf, BLKIF_OP.WRITE, 1, 8, 0x11);
  request(bf, BLKIF_OP.FLUSH_DISKCACHE, 2, 0, 0, false);
  m.run();
  bf.poll();
  assert.equal(bf.responses.map((r) => [Number(r.id), r.operation, r.status]), [[1, BLKIF_OP.WRITE, 0], [2, BLKIF_OP.FLUSH_DISKCACHE, 0]]);
  assert.equal(order, ['sync with 1 responses']);
  assert.is(disk.syncs, 1);
});

t('WRITE_BARRIER drains the ring, then flushes, then writes (Linux blkback)', () => {
  const { m, bf, img } = online();
  const q = m.k.blkback.queue;
  const disk = [...m.k.blkback.blkifs][0]!.vbd!.disk;
  q.stall();
  request(bf, BLKIF_OP.WRITE, 1, 8, 0x22);
  request(bf, BLKIF_OP.WRITE_BARRIER, 2, 16, 0x33);
  m.run(() => false, 1e9);
  // The barrier waits in xenblkd until the write before it completed.
  assert.is(q.inFlight, 1);
  q.resume();
  m.run();
  bf.poll();
  assert.equal(bf.responses.map((r) => [Number(r.id), r.status]), [[1, 0], [2, 0]]);
  assert.is(disk.syncs, 1);
  const f = fs.readFileSync(img);
  assert.is(f[8 * 512], 0x22);
  assert.is(f[16 * 512], 0x33);
  assert.is([...m.k.blkback.blkifs][0]!.stats.f_req, 1);
});

t('a bogus req_prod halts the ring with one dmesg line naming the domain', () => {
  const { m, bf } = online();
  bf.ring.sring.req_prod = (bf.ring.sring.req_prod + 1000) >>> 0;
  bf.d.evtchn.send(bf.port);
  m.run();
  const lines = m.k.klog.lines().filter((l) => /bogus ring requests/.test(l));
  assert.is(lines.length, 1, m.k.klog.lines().join('\n'));
  assert.match(lines[0]!, new RegExp(`dom${bf.d.id}\\b`));
  assert.is([...m.k.blkback.blkifs][0]!.stats.oo_req, 1);
});

/** The records of kernels/kv.ts's layout in `img`, page 1 up (see the kernel's header). */
function records(img: string): Array<{ seq: number; key: string; value: string }> {
  const f = fs.readFileSync(img);
  const out = [];
  for (let p = 1; (p + 1) * 4096 <= f.length; p++) {
    const o = p * 4096;
    if (f.toString('latin1', o, o + 4) !== 'KVR1' || f.readUInt32LE(o + 4) !== p) break;
    const kl = f.readUInt16LE(o + 8);
    const vl = f.readUInt16LE(o + 10);
    out.push({ seq: p, key: f.toString('latin1', o + 16, o + 16 + kl), value: f.toString('latin1', o + 16 + kl, o + 16 + kl + vl) });
  }
  return out;
}

t('kernels/kv.ts: every acknowledged record is on disk after SIGKILL of the host process and a restart', async () => {
  const img = image(4 << 20);
  const host = ['--import', 'tsx', path.join(root, 'test/support/kv_host.ts'), img];
  const child = spawn(process.execPath, [...host, '100000', '7'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const acks: Array<{ seq: number; key: string; value: string }> = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    const limit = setTimeout(() => reject(new Error(`only ${acks.length} acks in 30 s`)), 30000);
    child.stdout.on('data', (b: Buffer) => {
      buf += b.toString('latin1');
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const m = /^kv: ack (\d+) (\S+)=(\S+)$/.exec(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (m) acks.push({ seq: Number(m[1]), key: m[2]!, value: m[3]! });
        // Killed in the middle of the run: the host is writing and flushing.
        if (acks.length === 40 && child.exitCode === null) {
          clearTimeout(limit);
          child.kill('SIGKILL');
          resolve();
        }
      }
    });
    child.once('exit', () => {
      clearTimeout(limit);
      resolve();
    });
  });
  await new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
  assert.is(child.signalCode, 'SIGKILL');
  assert.ok(acks.length >= 40);
  const onDisk = records(img);
  assert.ok(onDisk.length >= acks.length, `${onDisk.length} records on disk, ${acks.length} acknowledged`);
  assert.equal(onDisk.slice(0, acks.length), acks);
  // A fresh host process recovers at least every acknowledged record.
  const again = spawnSync(process.execPath, [...host, '0', '8'], { cwd: root, encoding: 'utf8', timeout: 60000 });
  assert.is(again.status, 0, again.stderr);
  const rec = /kv: recovered (\d+) records/.exec(again.stdout);
  assert.ok(rec, again.stdout);
  assert.is(Number(rec![1]), onDisk.length);
  fs.rmSync(path.dirname(img), { recursive: true, force: true });
});

t.run();
