import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { machine, makeDomain, ScriptedNetfront, type Machine } from './fe.ts';
import { XENVIF_RX_QUEUE_BYTES } from '../../../src/dom0/kernel/xenvif.ts';

const t = suite('netback');

function connected(m: Machine, devid = 0, d = makeDomain(m)) {
  const nf = new ScriptedNetfront(m, d, devid);
  nf.add();
  m.run(() => nf.state('be') === '2');
  return nf;
}

t('vif handshake, key by key', () => {
  const m = machine();
  const nf = connected(m);
  const be = nf.be;
  assert.is(nf.state('be'), '2');
  for (const k of ['feature-sg', 'feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-ipv6-csum-offload', 'feature-rx-copy', 'feature-multicast-control', 'feature-dynamic-multicast-control', 'feature-split-event-channels', 'feature-ctrl-ring']) {
    assert.is(m.tool.read(`${be}/${k}`), '1', k);
  }
  assert.is(m.tool.read(`${be}/feature-rx-flip`), '0');
  assert.is(m.tool.read(`${be}/multi-queue-max-queues`), '1');
  assert.ok(m.k.netback.vifs.has('vif1.0'));
  // The frontend connects before the hotplug script ran: netback defers state 4.
  nf.connect();
  m.run();
  assert.is(nf.state('be'), '2', 'waits for hotplug-status');
  const names = m.k.ps().map((r) => r.command);
  assert.ok(names.includes('[vif1.0-q0-guest]') && names.includes('[vif1.0-q0-deall]'), names.join(' '));
  m.hotplug('online', 'vif', be);
  m.run();
  assert.is(nf.state('be'), '4');
  assert.ok(m.k.bridge.has(m.k.netback.vifs.get('vif1.0')!));
  assert.equal(m.k.bus.errors, []);
});

t('TX: > 128 bytes is zerocopy (128 copied, rest mapped); small packets answered at once; RX is copied in', () => {
  const m = machine();
  const nf = connected(m);
  m.hotplug('online', 'vif', nf.be);
  nf.connect();
  m.run(() => nf.state('be') === '4');
  nf.send(60, 1);
  m.run();
  nf.poll();
  assert.equal(nf.txResponses, [{ id: 1, status: 0 }]);
  nf.send(1500, 2);
  m.run();
  nf.poll();
  const vif = m.k.netback.vifs.get('vif1.0')!;
  assert.is(vif.stats.tx_zerocopy_sent, 1);
  assert.is(vif.stats.tx_zerocopy_success, 1, 'completed by the NIC');
  assert.equal(nf.txResponses[1], { id: 2, status: 0 });
  assert.is(m.k.nic.wire.length, 2);
  assert.is(m.k.nic.wire[1]!.length, 1500);
  assert.is(m.k.nic.wire[1]![200], 200);
  assert.is(m.dom0.gnttab.mappedCount, 2, 'only the two ring pages stay mapped');
  assert.match(m.k.ethtool('vif1.0')!, /^NIC statistics:\n     rx_gso_checksum_fixup: 0\n     tx_zerocopy_sent: 1\n     tx_zerocopy_success: 1\n     tx_zerocopy_fail: 0\n/);
  // A frame from the wire reaches the guest's posted rx buffer.
  const frame = new Uint8Array(300).fill(7);
  frame.fill(0xff, 0, 6);
  m.k.receiveFromWire(frame);
  m.run();
  nf.poll();
  assert.is(nf.received.length, 1);
  assert.is(nf.received[0]!.length, 300);
});

t('two vifs on the bridge: delivery to a local vif copies, so the zerocopy completes as fail', () => {
  const m = machine();
  const a = connected(m);
  const b = connected(m);
  for (const nf of [a, b]) {
    m.hotplug('online', 'vif', nf.be);
    nf.connect();
    m.run(() => nf.state('be') === '4');
  }
  a.send(1000, 5);
  m.run();
  b.poll();
  a.poll();
  const va = m.k.netback.vifs.get('vif1.0')!;
  assert.is(va.stats.tx_zerocopy_sent, 1);
  assert.is(va.stats.tx_zerocopy_fail, 1);
  assert.is(b.received.length, 1);
  assert.is(b.received[0]!.length, 1000);
});

function stallSetup(mode: 'single' | 'mtwatch', seed = 4) {
  const m = machine({ xenwatch: mode, seed });
  const nf = connected(m);
  m.hotplug('online', 'vif', nf.be);
  nf.connect();
  m.run(() => nf.state('be') === '4');
  nf.send(200, 1);
  m.run();
  m.k.nic.hold('vif1.0');
  nf.send(1500, 2);
  nf.send(1500, 3);
  m.run();
  // xl destroy: forced remove (frontend dir gone, online=0, state=5), domain destroyed.
  m.tool.rm(nf.fe);
  m.tool.tx({ [`${nf.be}/online`]: '0', [`${nf.be}/state`]: '5' });
  m.hv.destroyDomain(nf.d.id);
  m.run(undefined, 20e9);
  return { m, nf };
}

t('stall: netback holds a zerocopy packet; xenwatch sits in D in kthread_stop; ifconfig down/up releases it', () => {
  const { m, nf } = stallSetup('single');
  const vif = m.k.netback.vifs.get('vif1.0')!;
  assert.is(vif.inflight, 1);
  assert.match(m.k.ethtool('vif1.0')!, /tx_zerocopy_sent: 3\n     tx_zerocopy_success: 2\n/);
  const pid = m.k.xenwatchPid;
  assert.is(pid, 39);
  const st = m.k.stack(pid)!;
  assert.equal(st.split('\n').filter(Boolean).map((l) => l.replace(/^\[<0>\] (\S+?)\+.*$/, '$1')),
    ['kthread_stop', 'xenvif_disconnect_data', 'backend_disconnect', 'set_backend_state', 'frontend_changed', 'xenwatch_thread', 'kthread', 'ret_from_fork']);
  assert.ok(m.k.ps().some((r) => r.pid === pid && r.stat === 'D' && r.command === '[xenwatch]'));
  assert.ok(m.hv.domain(nf.d.id)?.dying, 'the domain stays dying: netback maps its page');
  // Another domain's device is not probed while xenwatch is stuck.
  const nf2 = new ScriptedNetfront(m, makeDomain(m));
  nf2.add();
  m.run(undefined, 20e9);
  assert.is(nf2.state('be'), '1');
  // The 2016 workaround.
  m.k.ifconfig('eth0', 'down');
  m.k.ifconfig('eth0', 'up');
  m.run(() => nf2.state('be') === '2');
  assert.is(nf2.state('be'), '2');
  m.run();
  assert.is(m.k.xenwatch.default.kt.state, 'S');
  assert.is(m.hv.domain(nf.d.id), undefined, 'reaped once the last grant is unmapped');
  assert.not.ok(m.k.netback.vifs.has('vif1.0'));
  assert.not.ok(m.k.ps().some((r) => r.command.startsWith('[vif1.0')));
});

t('mtwatch: only [xen-mtwatch-1] stalls; other domains are probed; release drains it', () => {
  const { m, nf } = stallSetup('mtwatch');
  const ex = m.k.xenwatch.perDomain.get(nf.d.id)!;
  assert.is(ex.kt.state, 'D');
  assert.is(ex.kt.comm, `xen-mtwatch-${nf.d.id}`);
  assert.is(m.k.xenwatch.default.kt.state, 'S');
  assert.equal(ex.kt.thread.stack().slice(0, 2), ['kthread_stop', 'xenvif_disconnect_data']);
  const nf2 = new ScriptedNetfront(m, makeDomain(m));
  nf2.add();
  m.run(() => nf2.state('be') === '2');
  assert.is(nf2.state('be'), '2');
  m.k.ifconfig('eth0', 'down');
  m.k.ifconfig('eth0', 'up');
  m.run();
  assert.not.ok(m.k.netback.vifs.has('vif1.0'));
  assert.equal(m.k.oopses, []);
});

t('frontend hand-over: Closing → Closed → Initialising → reconnect, nothing left mapped', () => {
  const m = machine();
  const nf = connected(m);
  m.hotplug('online', 'vif', nf.be);
  nf.connect();
  m.run(() => nf.state('be') === '4');
  nf.send(1000, 1);
  m.run();
  const d = nf.d;
  const mapped = () => m.dom0.gnttab.handlesOf(d.id).length;
  assert.is(mapped(), 2);
  m.tool.write(`${nf.fe}/state`, '5');
  m.run();
  assert.is(nf.state('be'), '5');
  assert.is(mapped(), 0, 'rings unmapped on Closing');
  m.tool.write(`${nf.fe}/state`, '6');
  m.run();
  assert.is(nf.state('be'), '6');
  assert.ok(m.k.netback.vifs.has('vif1.0'), 'online=1: the device stays');
  m.tool.write(`${nf.fe}/state`, '1');
  m.run();
  assert.is(nf.state('be'), '2');
  nf.connect();
  m.run(() => nf.state('be') === '4');
  assert.is(nf.state('be'), '4');
  nf.send(1000, 2);
  m.run();
  nf.poll();
  assert.ok(nf.txResponses.some((r) => r.id === 2 && r.status === 0));
  assert.equal(m.k.bus.errors, []);
});

t('stall and release hold under many seeds (interleavings), both modes, no internal errors', () => {
  for (const mode of ['single', 'mtwatch'] as const) {
    for (let seed = 10; seed < 22; seed++) {
      const { m, nf } = stallSetup(mode, seed);
      const ex = mode === 'single' ? m.k.xenwatch.default : m.k.xenwatch.perDomain.get(nf.d.id)!;
      assert.is(ex.kt.state, 'D', `${mode} seed ${seed}`);
      assert.ok(m.hv.domain(nf.d.id)?.dying);
      m.k.ifconfig('eth0', 'down');
      m.k.ifconfig('eth0', 'up');
      m.run();
      assert.is(m.hv.domain(nf.d.id), undefined, `${mode} seed ${seed}: reaped`);
      assert.is(m.k.bus.devices.size, 0);
      assert.equal(m.hv.internalErrors, []);
      assert.equal(m.k.oopses, []);
    }
  }
});

t('guest RX is bounded: XENVIF_RX_QUEUE_BYTES wait for buffers, then xenvif_start_xmit drops (tx_dropped)', () => {
  const m = machine();
  const nf = connected(m);
  m.hotplug('online', 'vif', nf.be);
  nf.connect();
  m.run(() => nf.state('be') === '4');
  const vif = m.k.netback.vifs.get('vif1.0')!;
  const frame = new Uint8Array(1000).fill(0xff, 0, 6);
  // All arrive before the guest-rx thread runs: the queue takes frames while
  // below the bound (the last one crosses it), the rest are dropped. Then the
  // 8 posted buffers take 8 frames; the guest never reposts, the others wait.
  const fit = Math.ceil(XENVIF_RX_QUEUE_BYTES / 1000);
  const n = fit + 5;
  for (let i = 0; i < n; i++) m.k.receiveFromWire(frame);
  m.run();
  assert.is(vif.stats.rx_packets, 8);
  const q = vif.queues[0]!;
  assert.is(q.rx_queue.length, fit - 8);
  assert.is(q.rx_queue_len, (fit - 8) * 1000);
  assert.is(vif.stats.tx_dropped, 5);
});

t.run();
