import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LIST_HEADER, formatListRow } from '../../../src/dom0/toolstack/xl.ts';
import type { DomInfo } from '../../../src/dom0/toolstack/xc.ts';

const list = suite('xl list format');
const base: DomInfo = {
  domid: 0, memKiB: 0, outstandingKiB: 0, vcpus: 1, running: false, blocked: false, paused: false,
  shutdown: false, shutdownReason: 0, dying: false, cpuTimeNs: 0,
};

list('header is byte-exact (spaces, then tabs)', () => {
  assert.is(LIST_HEADER, 'Name                                        ID   Mem VCPUs\tState\tTime(s)');
});

list('rows match the 2018 reproduction transcript (docs/architecture.md §5.1 step 3)', () => {
  const dom0 = formatListRow('Domain-0', { ...base, memKiB: 2879 * 1024 + 500, vcpus: 4, running: true, cpuTimeNs: 13.2e9 });
  assert.is(dom0, 'Domain-0                                     0  2879     4     r-----      13.2');
  const zombie = formatListRow(undefined, { ...base, domid: 1, paused: true, dying: true, cpuTimeNs: 7.04e9 });
  assert.is(zombie, '(null)                                       1     0     1     --p--d       7.0');
});

list('flags: blocked, shutdown with reason letter, outstanding memory counted', () => {
  const r = formatListRow('guest', { ...base, domid: 12, memKiB: 65536, outstandingKiB: 1024, blocked: true, cpuTimeNs: 123456.78e9 });
  assert.is(r, 'guest                                       12    65     1     -b----  123456.8');
  const s = formatListRow('crashed', { ...base, domid: 3, shutdown: true, shutdownReason: 3, paused: true });
  assert.is(s.slice(63, 69), '--psc-');
  const p = formatListRow('off', { ...base, domid: 4, shutdown: true, shutdownReason: 0 });
  assert.is(p.slice(63, 69), '---s--');
});

list.run();
