import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConsoleRing, CONRING_SIZE } from '../../src/xen/conring.ts';
import { handleKeypress } from '../../src/xen/keyhandler.ts';
import { Hypervisor } from '../../src/xen/hypervisor.ts';
import { Sim } from '../../src/sim/index.ts';
import { setup, guest, running } from './_helpers.ts';

const t = suite("Xen's console ring and debug keys");

t('the ring keeps the newest 16 KiB; the oldest bytes go, lines() drops the cut one', () => {
  assert.is(CONRING_SIZE, 16384);
  const r = new ConsoleRing(32);
  r.puts('(XEN) one\n');
  r.puts('(XEN) two\n');
  assert.equal(r.lines(), ['one', 'two']);
  r.puts('(XEN) three\n(XEN) four\n');
  assert.is(r.read().length, 32);
  assert.is(r.read(), '(XEN) one\n(XEN) two\n(XEN) three\n(XEN) four\n'.slice(-32));
  assert.ok(r.read().startsWith('XEN) two\n'), 'the ring starts mid-line, as Xen\'s does after a wrap');
  assert.equal(r.lines(), ['three', 'four']);
  r.clear();
  assert.is(r.read(), '');
  assert.throws(() => new ConsoleRing(0));
});

t("golden: 'h' lists the installed keys in ASCII order with Xen's format", () => {
  assert.is(handleKeypress('h', []),
    "(XEN) 'h' pressed -> showing installed handlers\n" +
    "(XEN)  key 'e' (ascii '65') => dump evtchn info\n" +
    "(XEN)  key 'g' (ascii '67') => print grant table usage\n" +
    "(XEN)  key 'h' (ascii '68') => show this message\n" +
    "(XEN)  key 'q' (ascii '71') => dump domain (and guest debug) info\n" +
    "(XEN)  key 'r' (ascii '72') => dump run queues\n");
});

t('unknown keys and bytes >= 128 print nothing', () => {
  for (const k of ['Z', '?', '\u00e9', 'ee', '']) assert.is(handleKeypress(k, []), '', JSON.stringify(k));
});

t('debugKeys() writes into the ring (xl dmesg), debugKey() only renders', () => {
  const hv = new Hypervisor(new Sim({ seed: 1 }), { conringSize: 4096 });
  hv.xenLog('Xen version 4.17 (xenode)');
  assert.ok(hv.debugKey('h').startsWith("(XEN) 'h' pressed"));
  assert.is(hv.conring.read(), '(XEN) Xen version 4.17 (xenode)\n');
  hv.debugKeys('hZ');
  assert.is(hv.conring.read(), '(XEN) Xen version 4.17 (xenode)\n' + handleKeypress('h', []));
  assert.equal(hv.xenConsole.slice(0, 2), ['Xen version 4.17 (xenode)', "'h' pressed -> showing installed handlers"]);
  // A long run stays bounded: the ring never exceeds its size.
  for (let i = 0; i < 200; i++) hv.debugKeys('h');
  assert.is(hv.conring.read().length, 4096);
});

t("golden: 'g' — one active row per pinned grant, Xen's columns", () => {
  const { hv, dom0 } = setup();
  const d = guest(hv, 'g', 1, 5);
  d.gnttab.grow(1);
  assert.is(d.gnttab.grantAccess(8, 0, 0x13), 0);
  assert.is(d.gnttab.grantAccess(9, 0, 0x14, true), 0);
  assert.is(dom0.gnttab.map(d.id, 8, false).status, 0);
  assert.is(dom0.gnttab.map(d.id, 9, true).status, 0);
  assert.is(dom0.gnttab.map(d.id, 9, true).status, 0);
  hv.debugKeys('g');
  assert.is(hv.conring.read(),
    "(XEN) gnttab_usage_print_all [ key 'g' pressed\n" +
    '(XEN)       -------- active --------       -------- shared --------\n' +
    '(XEN) [ref] localdom mfn      pin          localdom gmfn     flags\n' +
    '(XEN) grant-table for remote d0 (v1)\n' +
    `(XEN)   ${dom0.gnttab.nrFrames} frames (32 max), 1 maptrack frames (1024 max)\n` +
    '(XEN) no active grant table entries\n' +
    '(XEN)       -------- active --------       -------- shared --------\n' +
    '(XEN) [ref] localdom mfn      pin          localdom gmfn     flags\n' +
    '(XEN) grant-table for remote d5 (v1)\n' +
    '(XEN)   1 frames (32 max), 0 maptrack frames (1024 max)\n' +
    // permit_access 1 | reading 8 | writing 0x10 = 0x19, one host-write map; readonly 4 | reading 8 | permit 1 = 0x0d, two host-read maps.
    '(XEN) [0x008]      0 0x00013 0x00000001          0 0x000013 0x19\n' +
    '(XEN) [0x009]      0 0x00014 0x00000200          0 0x000014 0x0d\n' +
    "(XEN) gnttab_usage_print_all ] done\n");
});

/** dom0 with 2 vCPUs (on CPUs 0, 1) and d5 with 2 vCPUs (on CPUs 2, 3): v0 halted with VIRQ_DEBUG bound, v1 never started. */
function twoDomains() {
  const sim = new Sim({ seed: 1 });
  const hv = new Hypervisor(sim, { nrCpus: 4 });
  const dom0 = hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 1 << 20, vcpus: 2, host: true });
  const d = hv.createDomain({ domid: 5, name: 'g', memKiB: 32 << 10, vcpus: 2, handle: '0123abcd-0000-4000-8000-00000000cafe' });
  running(d.vcpus[0]!, true);
  d.vcpus[0]!.started = true;
  const port = d.evtchn.bindVirq(1, 0);
  d.vcpus[0]!.halt('SCHEDOP_block');
  sim.clock.advanceTo(1_500_000_000);
  return { sim, hv, dom0, d, port };
}

t("golden: 'q' — Xen 4.17's dump_domains per domain and vCPU, then VIRQ_DEBUG to every vCPU that bound it", () => {
  const { hv, dom0, d, port } = twoDomains();
  assert.is(port, 1);
  hv.debugKeys('q');
  const dom0Lines = (id: number, mfn: string, pages: number, max: number, handle: string) => [
    `General information for domain ${id}:`,
    '    refcnt=1 dying=0 pause_count=0',
    `    nr_pages=${pages} xenheap_pages=1 dirty_cpus={${id === 0 ? '0-1' : ''}} max_pages=${max}`,
    `    handle=${handle} vm_assist=00000000`,
    '    paging assistance: hap refcounts translate external ',
    `Rangesets belonging to domain ${id}:`,
    '    Interrupts { }',
    '    I/O Memory { }',
    '    I/O Ports  { }',
    `Memory pages belonging to domain ${id}:`,
    '    DomPage list too long to display',
    '    PoD entries=0 cachesize=0',
    `    XenPage ${mfn}: caf=c000000000000001, taf=e400000000000001`,
    `NODE affinity for domain ${id}: [0]`,
    `VCPU information and callbacks for domain ${id}:`,
  ];
  assert.is(hv.conring.read(), [
    "'q' pressed -> dumping domain info (now = 1500000000)",
    ...dom0Lines(0, '0000000000100000', 262144, 262144, '00000000-0000-0000-0000-000000000000'),
    '  UNIT0 affinities: hard={0-3} soft={0-3}',
    '    VCPU0: CPU0 [has=T] poll=0 upcall_pend=00 upcall_mask=00 dirty_cpu=0',
    '    pause_count=0 pause_flags=0',
    '    paging assistance: hap, 4 levels',
    'No periodic timer',
    '  UNIT1 affinities: hard={0-3} soft={0-3}',
    '    VCPU1: CPU1 [has=T] poll=0 upcall_pend=00 upcall_mask=00 dirty_cpu=1',
    '    pause_count=0 pause_flags=0',
    '    paging assistance: hap, 4 levels',
    'No periodic timer',
    ...dom0Lines(5, '0000000000100001', 8192, 8448, '0123abcd-0000-4000-8000-00000000cafe'),
    '  UNIT0 affinities: hard={0-3} soft={0-3}',
    // Halted with IF=1: blocked (pause_flags bit 0), events deliverable (upcall_mask 00); the line ends with a space, as Xen's.
    '    VCPU0: CPU2 [has=F] poll=0 upcall_pend=00 upcall_mask=00 ',
    '    pause_count=0 pause_flags=1',
    '    paging assistance: hap, 4 levels',
    'No periodic timer',
    '  UNIT1 affinities: hard={0-3} soft={0-3}',
    // Never started: down (bit 1), IF=0, paging off.
    '    VCPU1: CPU3 [has=F] poll=0 upcall_pend=00 upcall_mask=01 ',
    '    pause_count=0 pause_flags=2',
    '    paging assistance: hap, 1 levels',
    'No periodic timer',
    'Notifying guest 0:0 (virq 1, port 0)',
    'Notifying guest 0:1 (virq 1, port 0)',
    'Notifying guest 5:0 (virq 1, port 1)',
    'Notifying guest 5:1 (virq 1, port 0)',
    'Shared frames 0 -- Saved frames 0',
  ].map((l) => `(XEN) ${l}\n`).join(''));
  // send_guest_vcpu_virq: the bound port is now pending.
  assert.ok(d.evtchn.isPending(port));
  assert.is(dom0.vcpus.length, 2);
});

t("'q' rendered for a report (debugKey) sends no VIRQ and leaves the ring alone", () => {
  const { hv, d, port } = twoDomains();
  assert.ok(hv.debugKey('q').startsWith("(XEN) 'q' pressed -> dumping domain info (now = 1500000000)\n"));
  assert.not.ok(d.evtchn.isPending(port));
  assert.is(hv.conring.read(), '');
});

t("golden: 'r' — credit2's dump_runq: no 'pressed' line, one runqueue, the units and what each CPU runs", () => {
  const { hv, d } = twoDomains();
  d.vcpus[0]!.wake('test'); // runnable: in the runqueue, not on a CPU
  hv.debugKeys('r');
  assert.is(hv.conring.read(), [
    'sched_smt_power_savings: disabled',
    'NOW=1500000000',
    'Online Cpus: 0-3',
    'Cpupool 0:',
    'Cpus: 0-3',
    'Scheduling granularity: cpu, 1 CPU per sched-resource',
    'Scheduler: SMP Credit Scheduler rev2 (credit2)',
    'Active queues: 1',
    '\tdefault-weight     = 256',
    'Runqueue 0:',
    '\tncpus              = 4',
    '\tcpus               = 0-3',
    '\tmax_weight         = 256',
    '\tpick_bias          = 0',
    '\tinstload           = 3',
    '\taveload            = 786432 (~300%)',
    '\tidlers: c',
    '\ttickled: 0',
    '\tfully idle cores: c',
    'Domain info:',
    '\tDomain: 0 w 256 c 0 v 2',
    '\t  1: [0.0] flags=2 cpu=0 credit=10000000 [w=256] load=262144 (~100%)',
    '\t  2: [0.1] flags=2 cpu=1 credit=10000000 [w=256] load=262144 (~100%)',
    '\tDomain: 5 w 256 c 0 v 2',
    '\t  3: [5.0] flags=0 cpu=2 credit=10000000 [w=256] load=262144 (~100%)',
    '\t  4: [5.1] flags=0 cpu=3 credit=10000000 [w=256] load=0 (~0%)',
    'Runqueue 0:',
    'CPU[00] runq=0, sibling={0}, core={0-3}',
    '\trun: [0.0] flags=2 cpu=0 credit=10000000 [w=256] load=262144 (~100%)',
    'CPU[01] runq=0, sibling={1}, core={0-3}',
    '\trun: [0.1] flags=2 cpu=1 credit=10000000 [w=256] load=262144 (~100%)',
    'CPU[02] runq=0, sibling={2}, core={0-3}',
    'CPU[03] runq=0, sibling={3}, core={0-3}',
    'RUNQ:',
    '\t  0: [5.0] flags=0 cpu=2 credit=10000000 [w=256] load=262144 (~100%)',
    'CPUs info:',
    'CPU[00] current=d0v0, curr=d0v0, prev=NULL',
    'CPU[01] current=d0v1, curr=d0v1, prev=NULL',
    'CPU[02] current=d[IDLE]v2, curr=d[IDLE]v2, prev=NULL',
    'CPU[03] current=d[IDLE]v3, curr=d[IDLE]v3, prev=NULL',
  ].map((l) => `(XEN) ${l}\n`).join(''));
});

t('nrCpus is checked; vCPUs are placed round-robin', () => {
  assert.throws(() => new Hypervisor(new Sim({ seed: 1 }), { nrCpus: 0 }), /nrCpus/);
  const hv = new Hypervisor(new Sim({ seed: 1 }), { nrCpus: 3 });
  const a = hv.createDomain({ name: 'a', memKiB: 256, vcpus: 2 });
  const b = hv.createDomain({ name: 'b', memKiB: 256, vcpus: 2 });
  assert.equal([...a.vcpus, ...b.vcpus].map((v) => v.processor), [0, 1, 2, 0]);
});

t.run();
