// Message semantics as dom0 (in-process connection), byte-exact payloads.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Xenstored } from '../../../src/dom0/xenstored/xenstored.ts';
import { decodeReply, encodeRequest } from '../../../src/dom0/xenstored/local.ts';
import { Dom0 } from './helpers.ts';

const T = suite('ops as dom0');
const fresh = () => new Dom0(new Xenstored());

T('initial tree is cxenstored\'s', () => {
  const c = fresh();
  assert.is(c.q(1, '/\0'), 'tool\0');
  assert.is(c.q(1, '/tool\0'), 'xenstored\0');
  assert.is(c.q(2, '/tool/xenstored\0'), '');
  assert.is(c.q(3, '/\0'), 'n0\0');
});

T('WRITE/READ: value without NUL, NULs inside kept, implicit parents', () => {
  const c = fresh();
  assert.is(c.q(11, '/a/b/c\0hello'), 'OK\0');
  assert.is(c.q(2, '/a/b/c\0'), 'hello');
  assert.is(c.q(2, '/a/b\0'), '');
  assert.is(c.q(11, '/a/n\0x\0y\0'), 'OK\0');
  assert.is(c.q(2, '/a/n\0'), 'x\0y\0');
  assert.is(c.q(11, '/a/nonul'), 'ERR:EINVAL');
  assert.is(c.q(2, '/a/zz\0'), 'ERR:ENOENT');
  assert.is(c.q(1, '/a\0'), 'b\0n\0');
});

T('malformed args → EINVAL (not cxenstored\'s stale errno)', () => {
  const c = fresh();
  for (const p of ['', '/tool', '/tool\0x\0', '/tool\0\0']) assert.is(c.q(2, p), 'ERR:EINVAL', JSON.stringify(p));
  assert.is(c.q(12, '/x\0y\0'), 'ERR:EINVAL');
  assert.is(c.q(13, ''), 'ERR:EINVAL');
});

T('path rules', () => {
  const c = fresh();
  for (const p of ['/a//b', '/a/', 'a b', '/a.b', '', '/a\\b']) assert.is(c.q(11, `${p}\0v`), 'ERR:EINVAL', p);
  assert.is(c.q(11, '/ok-_@9\0v'), 'OK\0');
  assert.is(c.q(11, `/${'x'.repeat(2047)}\0v`), 'OK\0');
  assert.is(c.q(11, `/${'x'.repeat(2048)}\0v`), 'ERR:EINVAL');
  const home = '/local/domain/7/';
  assert.is(c.q(11, `${home}${'y'.repeat(2048)}\0v`), 'OK\0');
  assert.is(c.q(11, `${home}${'y'.repeat(2049)}\0v`), 'ERR:EINVAL');
  assert.is(c.q(11, 'rel/x\0v'), 'OK\0');
  assert.is(c.q(2, '/local/domain/0/rel/x\0'), 'v');
  assert.is(c.q(2, '@x\0'), 'ERR:EINVAL');
});

T('MKDIR existing → OK; RM rules', () => {
  const c = fresh();
  assert.is(c.q(12, '/m/n\0'), 'OK\0');
  assert.is(c.q(12, '/m/n\0'), 'OK\0');
  assert.is(c.q(13, '/m/zz\0'), 'OK\0');
  assert.is(c.q(13, '/m/zz/yy\0'), 'ERR:ENOENT');
  assert.is(c.q(13, '/\0'), 'ERR:EINVAL');
  assert.is(c.q(13, '/m\0'), 'OK\0');
  assert.is(c.q(2, '/m/n\0'), 'ERR:ENOENT');
  assert.is(c.q(1, '/\0'), 'tool\0');
});

T('GET/SET_PERMS: formats, strtol ids, errors', () => {
  const c = fresh();
  c.q(11, '/p\0v');
  assert.is(c.q(14, '/p\0n0\0r5\0b7\0w0x10\0'), 'OK\0');
  assert.is(c.q(3, '/p\0'), 'n0\0r5\0b7\0w16\0');
  assert.is(c.q(14, '/p\0x0\0'), 'ERR:EINVAL');
  assert.is(c.q(14, '/p\0'), 'ERR:EINVAL');
  assert.is(c.q(14, '/p\0r\0'), 'ERR:EINVAL');
  assert.is(c.q(14, '/p\0n70000\0'), 'ERR:ENOENT');
  assert.is(c.q(14, '/nope\0n0\0'), 'ERR:ENOENT');
  assert.is(c.q(3, '@introduceDomain\0'), 'ERR:EINVAL');
  assert.is(c.q(14, '@introduceDomain\0n0\0r5\0'), 'OK\0');
  assert.is(c.q(14, '@other\0n0\0'), 'ERR:ENOENT');
  // children inherit the parent's list
  c.q(11, '/p/kid\0k');
  assert.is(c.q(3, '/p/kid\0'), 'n0\0r5\0b7\0w16\0');
});

T('DIRECTORY_PART: byte offset, generation, terminator', () => {
  const c = fresh();
  const names: string[] = [];
  for (let i = 0; i < 40; i++) {
    names.push(`${'n'.repeat(120)}${i}`);
    c.q(12, `/dp/${names[i]}\0`);
  }
  const all = names.map((n) => n + '\0').join('');
  assert.is(c.q(1, '/dp\0'), 'ERR:E2BIG');
  const r0 = c.q(22, '/dp\x000\0');
  const gen = r0.slice(0, r0.indexOf('\0') + 1);
  assert.match(gen, /^\d+\0$/);
  const chunk0 = r0.slice(gen.length);
  assert.ok(gen.length + chunk0.length < 4096);
  assert.ok(all.startsWith(chunk0));
  const r1 = c.q(22, `/dp\0${chunk0.length}\0`);
  assert.is(r1, gen + all.slice(chunk0.length) + '\0');
  assert.is(c.q(22, '/dp\x003\0').slice(gen.length, gen.length + 5), 'nnnnn');
  assert.is(c.q(22, '/dp\x0099999\0'), gen + '\0');
  assert.is(c.q(22, '/dp\0'), 'ERR:EINVAL');
});

T('unknown and server-only types → ENOSYS, ids echoed', () => {
  const c = fresh();
  for (const t of [15, 16, 20, 23, 26, 99, 0xffff]) {
    const ms = c.send(t, 'x\0', 0, 0xdeadbeef);
    assert.equal(ms, [{ type: 16, reqId: 0xdeadbeef, txId: 0, p: 'ENOSYS\0' }]);
  }
});

T('domain ops as dom0', () => {
  const c = fresh();
  assert.is(c.q(10, '5\0'), '/local/domain/5\0');
  assert.is(c.q(10, 'abc\0'), '/local/domain/0\0');
  assert.is(c.q(10, '-1\0'), '/local/domain/4294967295\0');
  assert.is(c.q(17, '0\0'), 'T\0');
  assert.is(c.q(17, '5\0'), 'F\0');
  assert.is(c.q(8, '5\x001\x000\0'), 'ERR:EINVAL');
  assert.is(c.q(8, '5\x001\0'), 'ERR:EINVAL');
  assert.is(c.q(8, '5\x001\x001\0'), 'OK\0');
  assert.is(c.q(17, '5\0'), 'T\0');
  assert.is(c.q(8, '5\x001\x002\0'), 'OK\0');
  assert.is(c.q(9, '0\0'), 'ERR:EINVAL');
  assert.is(c.q(9, '77\0'), 'ERR:ENOENT');
  assert.is(c.q(18, '5\0'), 'OK\0');
  assert.is(c.q(19, '5\x006\0'), 'ERR:ENOENT');
  assert.is(c.q(9, '5\0'), 'OK\0');
  assert.is(c.q(17, '5\0'), 'F\0');
});

T('CONTROL: help, quota, check, print; unknown → EINVAL', () => {
  const c = fresh();
  assert.match(c.q(0, 'help\0'), /^check\t\nlog\ton\|off\n.*help\t\n\0$/s);
  assert.is(
    c.q(0, 'quota\0').split('\n')[1],
    'nodes            :     1000 Nodes per domain',
  );
  assert.is(c.q(0, 'check\0'), 'OK\0');
  assert.is(c.q(0, 'print\0hi\0'), 'OK\0');
  assert.is(c.q(0, 'bogus\0'), 'ERR:EINVAL');
  assert.is(c.q(0, 'log\0'), 'ERR:EINVAL');
  assert.is(c.q(0, 'quota\x005\0'), 'ERR:ENOENT');
  assert.is(
    c.q(0, 'quota\x000\0'),
    'Domain 0:\nnodes           :        3\nwatches         :        0\ntransactions    :        0\noutstanding     :        0\nmemory          :      132\n\0',
  );
  assert.is(c.q(0, 'quota\0set\0watches\x005\0'), 'OK\0');
});

T('local transport: several frames in one send, partial frames, len > 4096 drops', () => {
  const d = new Xenstored();
  const conn = d.connectLocal();
  const got: string[] = [];
  conn.onMessage = (f) => got.push(decodeReply(f).text);
  const a = encodeRequest(11, ['/l'], { raw: 'v', reqId: 1 });
  const b = encodeRequest(2, ['/l'], { reqId: 2 });
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  conn.send(both.subarray(0, 5));
  assert.equal(got, []);
  conn.send(both.subarray(5));
  assert.equal(got, ['OK\0', 'v']);
  const bad = new Uint8Array(16);
  new DataView(bad.buffer).setUint32(12, 4097, true);
  conn.send(bad);
  assert.ok(conn.closed);
  conn.send(b);
  assert.is(got.length, 2);
  // the store is intact and other connections unaffected
  const other = new Dom0(d);
  assert.is(other.q(2, '/l\0'), 'v');
});

T('local transport: re-entrant send from onMessage runs after the current request', () => {
  const d = new Xenstored();
  const w = d.connectLocal();
  const seen: string[] = [];
  w.onMessage = (f) => {
    const r = decodeReply(f);
    seen.push(`${r.type}:${r.text}`);
    if (r.type === 15 && r.strings?.[0] === '/re/x') w.send(encodeRequest(2, ['/re/x']));
  };
  w.send(encodeRequest(4, ['/re', 'tk']));
  const c = new Dom0(d);
  c.q(11, '/re/x\0val');
  assert.equal(seen, ['4:OK\0', '15:/re\0tk\0', '15:/re/x\0tk\0', '2:val']);
});

T.run();
