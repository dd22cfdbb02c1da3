// iputils ping's formatting and option rules, without a machine.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fmtG, fmtTime, parsePing } from '../../src/dom0/ping.ts';

const t = suite('dom0 ping: iputils formats');

t('loss is printf("%g", (float)loss)', () => {
  assert.is(fmtG(0), '0');
  assert.is(fmtG(100), '100');
  assert.is(fmtG((1 * 100) / 3), '33.3333');
  assert.is(fmtG((2 * 100) / 3), '66.6667');
  assert.is(fmtG(50), '50');
  assert.is(fmtG(100 / 8), '12.5');
  assert.is(fmtG(100 / 1e5), '0.001');
  assert.is(fmtG(100 / 1e7), '1e-05');
});

t('reply times: 3 decimals truncated below 1 ms, then 2 and 1 rounded, then whole ms', () => {
  assert.is(fmtTime(0), ' time=0.000 ms');
  assert.is(fmtTime(50), ' time=0.050 ms');
  assert.is(fmtTime(999), ' time=0.999 ms');
  assert.is(fmtTime(1234), ' time=1.23 ms');
  assert.is(fmtTime(1235), ' time=1.24 ms');
  assert.is(fmtTime(9994), ' time=9.99 ms');
  assert.is(fmtTime(9995), ' time=10.0 ms');
  assert.is(fmtTime(12345), ' time=12.3 ms');
  assert.is(fmtTime(99949), ' time=99.9 ms');
  assert.is(fmtTime(99950), ' time=100 ms');
  assert.is(fmtTime(1234567), ' time=1235 ms');
});

t('options: getopt clusters, -f means interval 0 unless -i, defaults 56 bytes / 1 s / 10 s; -c or -w required', () => {
  assert.equal(parsePing(['-w', '3', '10.0.0.2']), { target: '10.0.0.2', flood: false, quiet: false, npackets: 0, interval: 1000, datalen: 56, lingertime: 10000, deadline: 3 });
  assert.equal(parsePing(['10.0.0.2']), { code: 2, stdout: '', stderr: 'ping: the emulated shell cannot interrupt ping: give -c COUNT or -w SECONDS\n' });
  assert.equal(parsePing(['-fqc', '100', '10.0.0.2']), { target: '10.0.0.2', flood: true, quiet: true, npackets: 100, interval: 0, datalen: 56, lingertime: 10000, deadline: 0 });
  assert.equal(parsePing(['-f', '-i0.2', '-s', '1000', '-W', '2.5', '-c1', '10.0.0.2']), { target: '10.0.0.2', flood: true, quiet: false, npackets: 1, interval: 200, datalen: 1000, lingertime: 2500, deadline: 0 });
  assert.equal(parsePing(['-x', '10.0.0.2']), { code: 2, stdout: '', stderr: "ping: invalid option -- 'x'\nusage: ping [-f] [-q] [-c count] [-i interval] [-s packetsize] [-W timeout] destination\n" });
  assert.equal(parsePing(['-c']), { code: 2, stdout: '', stderr: "ping: option requires an argument -- 'c'\n" });
  assert.equal(parsePing(['-s', '1473', '10.0.0.2']), { code: 2, stdout: '', stderr: "ping: invalid -s value: '1473': xenbr0 does not fragment, the largest is 1472\n" });
  assert.equal(parsePing(['-W', '-1', '10.0.0.2']), { code: 2, stdout: '', stderr: 'ping: bad linger time: -1\n' });
});

t.run();
