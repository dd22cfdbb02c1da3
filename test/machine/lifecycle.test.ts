// No leaks per domain lifecycle (issue 11, item 4): 150 create/destroy cycles
// of a netfront domain (vif on xenbr0, frames sent) leave every per-machine
// counter exactly where it was after the first cycle, and the logs that do
// grow per cycle (hypervisor console, xl history, NIC capture) stay within
// their bounds. scripts/lifecycle_cycles.ts runs 2,000.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CONRING_SIZE } from '../../src/xen/conring.ts';
import { MACHINE_HISTORY } from '../../src/machine/machine.ts';
import { NIC_CAPTURE_FRAMES } from '../../src/dom0/kernel/nic.ts';
import { HOST_COUNTERS, hostCounters, machineCounters, type MachineCounters } from '../../src/machine/counters.ts';
import { cycle, lifecycleMachine } from '../support/lifecycle.ts';

const L = suite('domain lifecycle leaks');

const pick = (c: MachineCounters) => Object.fromEntries(HOST_COUNTERS.map((k) => [k, c[k]]));

L('150 create/destroy cycles of a netfront domain: ports, grants, nodes, watches, kthreads, bridge ports and timers come back exactly', async () => {
  const m = await lifecycleMachine(5);
  const start = machineCounters(m);
  let mid: MachineCounters | undefined;
  for (let i = 0; i < 150; i++) cycle(m, i === 75 ? (mm) => (mid = machineCounters(mm)) : undefined);
  const end = machineCounters(m);
  // Exact, xenstore nodes included: libxl__xs_path_cleanup takes the empty
  // /local/domain/0/backend/{vif,vbd}/<domid> parents with the last device (0 nodes leaked a cycle).
  assert.equal(pick(end), pick(start));
  assert.equal(m.xenstoreLs('/local/domain/0/backend').code, 1, 'no backend dir left once the last domU is gone');
  // The counters did move while a domain ran (the cycle exercised what it checks).
  for (const k of ['domains', 'dom0Ports', 'dom0GrantsMapped', 'xenstoreNodes', 'kthreads', 'bridgePorts'] as const) {
    assert.ok(mid![k] > start[k], `${k}: ${mid![k]} while running, ${start[k]} idle`);
  }
  assert.ok(end.xenConsoleBytes <= CONRING_SIZE && end.historyEntries === MACHINE_HISTORY && end.nicFrames === NIC_CAPTURE_FRAMES, JSON.stringify(end));
  assert.equal(m.hv.internalErrors, []);
});

L('the bounded logs keep their newest entries', () => {
  // Cheap unit checks of the three bounds on their own.
  return import('../../src/machine/machine.ts').then(({ Machine }) => {
    const m = new Machine({ seed: 1, kernel: false });
    // Xen's conring: 16 KiB of bytes, the oldest overwritten (src/xen/conring.ts).
    const n = 2000;
    for (let i = 0; i < n; i++) m.hv.xenLog(`line ${i}`);
    assert.is(m.hv.conring.read().length, CONRING_SIZE);
    assert.is(m.hv.xenConsole.at(-1), `line ${n - 1}`);
    const first = Number(m.hv.xenConsole[0]!.replace('line ', ''));
    assert.ok(first > 0 && m.hv.xenConsole.length === n - first, `the newest ${m.hv.xenConsole.length} lines, contiguous`);
    for (let i = 0; i < MACHINE_HISTORY + 3; i++) m.xlSync('list');
    assert.is(m.history.length, MACHINE_HISTORY);
  });
});

L('HOST_COUNTERS names every host counter; a machine without dom0 kernel counts none of its threads', async () => {
  const { Machine } = await import('../../src/machine/machine.ts');
  const m = new Machine({ seed: 1, kernel: false });
  const c = machineCounters(m);
  assert.equal(Object.keys(hostCounters(m)).sort(), [...HOST_COUNTERS].sort());
  assert.equal([c.domains, c.kthreads, c.bridgePorts, c.nicFrames], [1, 0, 0, 0]);
});

L.run();
