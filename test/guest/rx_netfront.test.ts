// Netfront.frames (an Observable of received frames) in a kernel, against the
// real netback: dom0 transmits into vif1.0 and the kernel's RxJS pipeline
// (filter by EtherType, take, toArray, timeout on virtual time) sees them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Skb } from '../../src/dom0/kernel/skb.ts';
import { Machine } from '../../src/machine/machine.ts';

const t = suite('netfront frames as an Observable');

function frame(len: number, type: number): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0x00, 0x16, 0x3e, 0x00, 0x00, 0x01], 0); // to the guest's MAC
  f.set([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff], 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  return f;
}

t('the kernel composes nf.frames with RxJS operators', async () => {
  const host = new Machine({ seed: 1 });
  host.files.set('fr.cfg', `name = "fr"\nkernel = "test/guest/kernels/frames.ts"\nmemory = 64\nvcpus = 1\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nextra = "count=3"\n`);
  const r = await host.xl('create fr.cfg');
  assert.is(r.code, 0, r.stderr);
  const d = host.hv.domain(1)!;
  host.sim.runUntil(() => host.console(d.id)!.includes('frames: connected'), { until: host.sim.now + 5e9 });
  assert.match(host.console(d.id)!, 'frames: connected');
  const vif = host.kernel!.netback.vifs.get('vif1.0')!;
  // Two of another EtherType (IPv4) are filtered out by the kernel's pipeline.
  for (const [len, type] of [[60, 0x88b5], [100, 0x0800], [61, 0x88b5], [70, 0x0800], [1500, 0x88b5], [62, 0x88b5]] as const) vif.xmit(new Skb(frame(len, type)));
  host.sim.runUntil(() => d.shutdownReason !== undefined, { until: host.sim.now + 5e9 });
  host.sim.runUntil(() => /frames: \d/.test(host.console(d.id)!), { until: host.sim.now + 1e9 }); // xenconsoled reads the last of the ring
  assert.match(host.console(d.id)!, /frames: 60,61,1500\n/);
  assert.is(d.shutdownReason, 0, host.console(d.id)!);
});

t.run();
