import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  XENSTORE_PAYLOAD_MAX, XSD_ERRORS, XS_DIRECTORY_PART, XS_READ, XS_RING_REQ, XS_RING_REQ_CONS, XS_RING_REQ_PROD,
  XS_TYPE_COUNT, XS_WATCH_EVENT, XsFrameReader, XsProtocolError, XsRing, decodeHeader, decodeMessage, encodeMessage,
  splitStrings, encodeArgs, encodeArgsMessage, decodeMessageCopy,
} from '../../src/abi/xs_wire.ts';

test('message numbers and error order are Xen 4.17', () => {
  assert.is(XS_READ, 2);
  assert.is(XS_WATCH_EVENT, 15);
  assert.is(XS_DIRECTORY_PART, 22);
  assert.is(XS_TYPE_COUNT, 23);
  assert.equal(XSD_ERRORS.slice(0, 5), ['EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT']);
  assert.is(XSD_ERRORS[15], 'EPERM');
  assert.is(XSD_ERRORS.length, 16);
});

test('encode: the bytes xenstore-read sends', () => {
  const f = encodeMessage(XS_READ, 0, 0, '/local/domain/0/name\0');
  const hex = Buffer.from(f.subarray(0, 16)).toString('hex');
  assert.is(hex, '02000000' + '00000000' + '00000000' + '15000000');
  assert.is(Buffer.from(f.subarray(16)).toString('latin1'), '/local/domain/0/name\0');
  const h = decodeHeader(f);
  assert.equal(h, { type: 2, reqId: 0, txId: 0, len: 21 });
});

test('encode rejects > 4096, decode rejects bad lengths', () => {
  assert.throws(() => encodeMessage(1, 0, 0, new Uint8Array(XENSTORE_PAYLOAD_MAX + 1)), (e: unknown) => e instanceof XsProtocolError);
  assert.is(encodeMessage(1, 0, 0, new Uint8Array(XENSTORE_PAYLOAD_MAX)).length, 4112);
  const f = encodeMessage(2, 7, 9, 'ab');
  assert.equal(decodeMessage(f).reqId, 7);
  assert.throws(() => decodeMessage(f.subarray(0, 17)));
  const big = new Uint8Array(16);
  big[12] = 0x01; big[13] = 0x10; // 4097
  assert.throws(() => decodeMessage(big));
});

test('encodeArgsMessage is encodeMessage of encodeArgs, in one array; decodeMessageCopy is decodeMessage with a copy', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 }), fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }), fc.nat(0xffffffff), fc.nat(0xffffffff), (args, value, reqId, txId) => {
      const one = encodeArgsMessage(XS_READ, reqId, txId, args, value);
      assert.equal(one, encodeMessage(XS_READ, reqId, txId, encodeArgs(args, value)));
      const m = decodeMessageCopy(one);
      assert.equal(m, decodeMessage(one));
      one.fill(0xff);
      assert.equal(m.payload, encodeArgs(args, value), 'the payload is a copy');
    }),
  );
  const long = ['/'.repeat(XENSTORE_PAYLOAD_MAX)];
  assert.throws(() => encodeArgsMessage(XS_READ, 0, 0, long), (e: unknown) => e instanceof XsProtocolError && e.message === 'xenstore payload of 4097 bytes > 4096');
  assert.throws(() => encodeMessage(XS_READ, 0, 0, encodeArgs(long)), (e: unknown) => e instanceof XsProtocolError && e.message === 'xenstore payload of 4097 bytes > 4096');
  assert.throws(() => decodeMessageCopy(new Uint8Array(15)), (e: unknown) => e instanceof XsProtocolError);
});

test('splitStrings', () => {
  assert.equal(splitStrings(new Uint8Array([97, 0, 98, 0])), ['a', 'b']);
  assert.is(splitStrings(new Uint8Array([97])), undefined);
  assert.equal(splitStrings(new Uint8Array([])), []);
});

test('frame reader: frames split anywhere come back whole and in order', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.array(fc.nat(400), { maxLength: 10 }), (payloads, cuts) => {
      const frames = payloads.map((p, i) => encodeMessage(i, i + 100, 0, p));
      const all = Buffer.concat(frames);
      const r = new XsFrameReader();
      const got: number[] = [];
      let off = 0;
      for (const c of cuts) {
        const end = Math.min(all.length, off + c);
        r.push(all.subarray(off, end));
        off = end;
        for (let m = r.next(); m; m = r.next()) got.push(m.reqId);
      }
      r.push(all.subarray(off));
      for (let m = r.next(); m; m = r.next()) got.push(m.reqId);
      assert.equal(got, payloads.map((_, i) => i + 100));
      assert.is(r.pending, 0);
    }),
    { seed: 42, numRuns: 200 },
  );
});

test('frame reader never throws on garbage; len > 4096 breaks it for good', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
      const r = new XsFrameReader();
      for (const c of chunks) {
        r.push(c);
        for (let m = r.next(); m; m = r.next()) assert.ok(m.payload.length <= XENSTORE_PAYLOAD_MAX);
      }
    }),
    { seed: 7, numRuns: 300 },
  );
  const r = new XsFrameReader();
  const h = new Uint8Array(16);
  new DataView(h.buffer).setUint32(12, 5000, true);
  r.push(h);
  assert.is(r.next(), undefined);
  assert.ok(r.broken);
  r.push(encodeMessage(1, 0, 0, 'x\0'));
  assert.is(r.next(), undefined);
});

test('ring: wraps free-running indices and refuses corrupt ones', () => {
  const ring = new XsRing(new ArrayBuffer(4096));
  ring.set(XS_RING_REQ_PROD, 0xfffffff0);
  ring.set(XS_RING_REQ_CONS, 0xfffffff0);
  const data = new Uint8Array(100).map((_, i) => i);
  assert.is(ring.write(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS, data), 100);
  assert.is(ring.get(XS_RING_REQ_PROD), (0xfffffff0 + 100) >>> 0);
  assert.equal(Array.from(ring.read(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS)!), Array.from(data));
  assert.is(ring.write(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS, new Uint8Array(2000)), 1024);
  ring.set(XS_RING_REQ_PROD, ring.get(XS_RING_REQ_CONS) + 1025);
  assert.is(ring.read(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS), undefined);
});

test.run();
