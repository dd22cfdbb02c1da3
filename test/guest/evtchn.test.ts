// Demux unit tests (docs/architecture.md §4.1–4.5) against a fake shared_info.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GuestDoors } from '../../src/abi/doors.ts';
import { SHARED_INFO, VCPU_INFO } from '../../src/abi/xen.ts';
import { Evtchn } from '../../src/guest/evtchn.ts';
import { Activations } from '../../src/guest/activations.ts';
import * as Lwt from '../../src/guest/lwt.ts';
import { FIXED, type Variant } from '../../src/abi/variant.ts';

/** shared_info + the two Xen 2L operations the guest can trigger (set_pending by a sender, EVTCHNOP_unmask). */
function setup(variant: Variant = FIXED) {
  const si = new ArrayBuffer(4096);
  const u8 = new Uint8Array(si);
  const u32 = new Uint32Array(si);
  const log: string[] = [];
  let onPoint: ((l: string) => void) | undefined;
  const bit = (base: number, p: number) => (u32[base / 4 + (p >> 5)]! >>> (p & 31)) & 1;
  const selBit = (p: number) => (u32[(VCPU_INFO.evtchn_pending_sel >> 2) + ((p >> 6) >> 5)]! >>> ((p >> 6) & 31)) & 1;
  let upcalls = 0;
  const raise = (p: number) => {
    const w = p >> 6;
    const i = (VCPU_INFO.evtchn_pending_sel >> 2) + (w >> 5);
    if (u32[i]! & (1 << (w & 31))) return;
    u32[i]! |= 1 << (w & 31);
    if (u8[0] === 0) {
      u8[0] = 1;
      upcalls++;
    }
  };
  const xen = {
    send(p: number) {
      const i = SHARED_INFO.evtchn_pending / 4 + (p >> 5);
      if (u32[i]! & (1 << (p & 31))) return; // coalesced
      u32[i]! |= 1 << (p & 31);
      if (bit(SHARED_INFO.evtchn_mask, p)) return;
      raise(p);
    },
    unmask(p: number) {
      const i = SHARED_INFO.evtchn_mask / 4 + (p >> 5);
      if (!(u32[i]! & (1 << (p & 31)))) return;
      u32[i]! &= ~(1 << (p & 31));
      if (bit(SHARED_INFO.evtchn_pending, p)) raise(p);
    },
    triple: (p: number) => `[${bit(SHARED_INFO.evtchn_pending, p)}/${bit(SHARED_INFO.evtchn_mask, p)}/${selBit(p)}]`,
    get upcalls() {
      return upcalls;
    },
  };
  const doors: GuestDoors = {
    vcpuId: 0, nrFrames: 16, frame: () => si, hypercall: () => 0, cli() {}, sti() {}, hlt: () => true, eoi: () => log.push('eoi'),
    point: (l) => {
      log.push(l);
      onPoint?.(l);
    },
    rdtsc: () => 0,
  };
  const hyper = {
    portOp(op: 'send' | 'unmask' | 'close', port: number) {
      log.push(`EVTCHNOP_${op}(${port})`);
      if (op === 'unmask') xen.unmask(port);
      return 0;
    },
  };
  const ev = new Evtchn(doors, hyper, 5, 0, variant);
  ev.mask_all();
  return { ev, xen, u8, log, setHook: (f: ((l: string) => void) | undefined) => (onPoint = f) };
}

const D = suite('evtchn demux');

D('single port: found, masked, pending cleared, shadow set', () => {
  const { ev, xen } = setup();
  ev.unmask(3);
  xen.send(3);
  assert.is(xen.triple(3), '[1/0/1]');
  assert.ok(ev.demux_pending());
  assert.is(xen.triple(3), '[0/1/0]');
  assert.is(ev.shadow[3], 1);
  assert.equal(ev.take_found(), [3]);
  assert.ok(ev.test_and_clear(3));
  assert.is(xen.triple(3), '[0/0/0]');
  assert.not.ok(ev.test_and_clear(3));
  assert.not.ok(ev.demux_pending());
});

D('multiple ports in one word, in port order', () => {
  const { ev, xen } = setup();
  for (const p of [9, 2, 40, 63]) ev.unmask(p);
  for (const p of [40, 9, 63, 2]) xen.send(p);
  assert.ok(ev.demux_pending());
  assert.equal(ev.take_found(), [2, 9, 40, 63]);
});

D('ports in several selector words (including the high selector half)', () => {
  const { ev, xen } = setup();
  const ports = [1, 64, 130, 2047, 2048, 4095];
  for (const p of ports) ev.unmask(p);
  for (const p of [...ports].reverse()) xen.send(p);
  assert.ok(ev.demux_pending());
  assert.equal(ev.take_found(), ports);
  for (const p of ports) assert.is(xen.triple(p), '[0/1/0]');
});

D('masked ports are left pending and not found', () => {
  const { ev, xen } = setup();
  ev.unmask(5);
  xen.send(7); // still masked since boot
  xen.send(5);
  assert.ok(ev.demux_pending());
  assert.equal(ev.take_found(), [5]);
  assert.is(xen.triple(7), '[1/1/0]');
  assert.is(ev.shadow[7], 0);
});

D('event while masked is recovered through unmask (re-mask + EVTCHNOP_unmask)', () => {
  const { ev, xen, log } = setup();
  ev.unmask(4);
  xen.send(4);
  ev.demux_pending(); // 4 masked, shadow set
  assert.equal(ev.take_found(), [4]);
  xen.send(4); // arrives while masked: pending only, edge lost
  assert.is(xen.triple(4), '[1/1/0]');
  ev.test_and_clear(4);
  assert.ok(log.includes('EVTCHNOP_unmask(4)'));
  assert.is(xen.triple(4), '[1/0/1]');
  assert.ok(ev.demux_pending());
  assert.equal(ev.take_found(), [4]);
});

D('checks-mask variant wedges the port [1/0/0]', () => {
  const { ev, xen, log } = setup({ ...FIXED, unmask: 'checks-mask' });
  ev.unmask(4);
  xen.send(4);
  ev.demux_pending();
  ev.take_found();
  xen.send(4);
  ev.test_and_clear(4);
  assert.not.ok(log.includes('EVTCHNOP_unmask(4)'));
  assert.is(xen.triple(4), '[1/0/0]');
  xen.send(4); // coalesced: still wedged
  assert.not.ok(ev.demux_pending());
  assert.is(xen.triple(4), '[1/0/0]');
  // Recovery only via another port of the same word.
  ev.unmask(5);
  xen.send(5);
  assert.ok(ev.demux_pending());
  assert.equal(ev.take_found(), [4, 5]);
});

D('coalescing: N sends while pending = one event', () => {
  const { ev, xen } = setup();
  const act = new Activations(ev);
  ev.unmask(6);
  for (let i = 0; i < 5; i++) xen.send(6);
  assert.is(xen.upcalls, 1);
  ev.demux_pending();
  assert.is(act.run(), 1);
  assert.is(act.counter(6), 1);
});

D('an event during the handler (between demux and test_and_clear) is not lost', () => {
  const { ev, xen, setHook } = setup();
  const act = new Activations(ev);
  ev.unmask(8);
  xen.send(8);
  let sent = false;
  setHook((l) => {
    if (l === 'demux:clear pending' && !sent) {
      sent = true;
      xen.send(8); // before pending is cleared: coalesced into the one being taken
    }
  });
  ev.demux_pending();
  setHook(undefined);
  xen.send(8); // after: pending while masked
  act.run();
  assert.is(act.counter(8), 1);
  assert.is(xen.triple(8), '[1/0/1]'); // re-raised by unmask
  assert.ok(ev.demux_pending());
  act.run();
  assert.is(act.counter(8), 2);
});

D('upcall_pending is cleared before the selector swap', () => {
  const { ev, xen, u8, log, setHook } = setup();
  ev.unmask(3);
  xen.send(3);
  let upAtXchg = -1;
  setHook((l) => {
    if (l === 'demux:xchg pending_sel') upAtXchg = u8[0]!;
  });
  ev.demux_pending();
  assert.is(upAtXchg, 0);
  assert.ok(log.indexOf('demux:clear upcall_pending') < log.indexOf('demux:xchg pending_sel'));
  // An event between clear and swap re-raises upcall_pending: not lost.
  const t = setup();
  t.ev.unmask(3);
  t.ev.unmask(70);
  t.xen.send(3);
  t.setHook((l) => {
    if (l === 'demux:xchg pending_sel') t.xen.send(70);
  });
  t.ev.demux_pending();
  assert.equal(t.ev.take_found(), [3, 70]);
});

D('the no-op handler only EOIs; handler-clears variant demuxes in the handler', () => {
  const a = setup();
  a.ev.unmask(3);
  a.xen.send(3);
  a.ev.handler(32);
  assert.is(a.u8[0], 1);
  assert.is(a.xen.triple(3), '[1/0/1]');
  const b = setup({ ...FIXED, handler: 'clears-upcall-pending' });
  b.ev.unmask(3);
  b.xen.send(3);
  b.ev.handler(32);
  assert.is(b.u8[0], 0);
  assert.is(b.ev.shadow[3], 1);
  // The main loop's demux finds nothing new, but reports the port the handler
  // left in the shadow: only an event taken between demux and cli is hidden.
  assert.ok(b.ev.demux_pending());
  assert.equal(b.ev.take_found(), [3]);
});

D('Activations.after is lossless, wait is lossy', () => {
  Lwt.reset();
  const { ev, xen } = setup();
  const act = new Activations(ev);
  ev.unmask(9);
  xen.send(9);
  ev.demux_pending();
  act.run(); // counter 1, nobody waiting
  const a = act.after(9, 0);
  assert.is(a.state(), 'fulfilled');
  const w = act.wait(9);
  const b = act.after(9, 1);
  Lwt.run_queue();
  assert.is(w.state(), 'pending');
  assert.is(b.state(), 'pending');
  xen.send(9);
  ev.demux_pending();
  act.run();
  Lwt.run_queue();
  assert.is(w.state(), 'fulfilled');
  assert.is(b.value(), 2);
});

D.run();
