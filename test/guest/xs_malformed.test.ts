// The guest xenstore client against a hand-driven (misbehaving) server: every
// malformed stream becomes a clear XsProtocolError on every outstanding
// request and watch, never a hang; the client stays closed afterwards.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  XS_READ, XS_RING_ERROR, XS_RING_REQ, XS_RING_REQ_CONS, XS_RING_REQ_PROD, XS_RING_RSP, XS_RING_RSP_CONS, XS_RING_RSP_PROD,
  XS_WATCH, XS_WATCH_EVENT, XS_WRITE, XsFrameReader, XsRing, encodeMessage, writeHeader, type XsMessage,
} from '../../src/abi/xs_wire.ts';
import * as Lwt from '../../src/guest/lwt.ts';
import { Xs, XsError, XsProtocolError } from '../../src/guest/xs.ts';
import { channel } from './xs_world.ts';

const M = suite('guest xs client: malformed daemon');
M.before.each(() => Lwt.reset());

function rig() {
  const page = new ArrayBuffer(4096);
  const ring = new XsRing(page);
  const ch = channel();
  let notified = 0;
  const xs = Xs.create({ page, notify: () => void notified++, counter: () => ch.counter, after: (c) => ch.after(c) });
  const reader = new XsFrameReader();
  /** Requests the client has written so far. */
  const requests = (): XsMessage[] => {
    const b = ring.read(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS)!;
    reader.push(b);
    const out: XsMessage[] = [];
    for (let m = reader.next(); m; m = reader.next()) out.push({ ...m, payload: m.payload.slice() });
    return out;
  };
  /** Server → client bytes, then an event. */
  const reply = (bytes: Uint8Array) => {
    const n = ring.write(XS_RING_RSP, XS_RING_RSP_PROD, XS_RING_RSP_CONS, bytes);
    assert.is(n, bytes.length);
    ch.fire();
    Lwt.run_queue();
  };
  const settled = <T>(p: Lwt.Lwt<T>) => {
    Lwt.run_queue();
    return p.state();
  };
  const error = <T>(p: Lwt.Lwt<T>): unknown => {
    Lwt.run_queue();
    assert.is(p.state(), 'rejected');
    try {
      p.value();
    } catch (e) {
      return e;
    }
  };
  return { page, ring, ch, xs, requests, reply, settled, error, notified: () => notified };
}

M('a header with len > 4096 fails every outstanding request', () => {
  const { xs, requests, reply, settled, error } = rig();
  const a = xs.read('a');
  const b = xs.write('b', 'v');
  Lwt.run_queue();
  const [ra, rb] = requests();
  assert.is(ra!.type, XS_READ);
  assert.is(rb!.type, XS_WRITE);
  assert.is(settled(a), 'pending');
  const h = new Uint8Array(16);
  writeHeader(h, 0, XS_READ, ra!.reqId, 0, 5000);
  reply(h);
  for (const p of [a, b] as Lwt.Lwt<unknown>[]) {
    const e = error(p);
    assert.instance(e, XsProtocolError);
    assert.match(String((e as Error).message), /malformed reply.*len > 4096/);
  }
  // closed: later requests fail at once, nothing is written
  const c = xs.read('c');
  assert.instance(error(c), XsProtocolError);
  assert.equal(requests(), []);
});

M('a reply with an unknown req_id, or of the wrong type, is a protocol error', () => {
  {
    const { xs, requests, reply, error } = rig();
    const a = xs.read('a');
    Lwt.run_queue();
    const [ra] = requests();
    reply(encodeMessage(XS_READ, ra!.reqId + 1000, 0, new Uint8Array([118])));
    assert.match(String((error(a) as Error).message), /unknown req_id/);
  }
  {
    const { xs, requests, reply, error } = rig();
    const a = xs.read('a');
    Lwt.run_queue();
    const [ra] = requests();
    reply(encodeMessage(XS_WRITE, ra!.reqId, 0, new Uint8Array([79, 75, 0])));
    assert.match(String((error(a) as Error).message), /reply type WRITE to a READ request/);
  }
});

M('a DIRECTORY reply that is not a NUL-terminated list rejects that request', () => {
  const { xs, requests, reply, error, settled } = rig();
  const a = xs.directory('d');
  Lwt.run_queue();
  const [ra] = requests();
  reply(encodeMessage(ra!.type, ra!.reqId, 0, new Uint8Array([97, 0, 98])));
  assert.instance(error(a), XsProtocolError);
  // a later well-formed exchange still works (the framing is intact)
  const b = xs.read('b');
  Lwt.run_queue();
  const [rb] = requests();
  reply(encodeMessage(XS_READ, rb!.reqId, 0, new Uint8Array([120])));
  assert.is(settled(b), 'fulfilled');
  assert.is(b.value(), 'x');
});

M('corrupt rsp indices (prod - cons > 1024) fail requests and watches', () => {
  const { xs, ring, ch, error } = rig();
  const a = xs.read('a');
  let werr: unknown;
  xs.watch('w').subscribe({ error: (e) => (werr = e) });
  Lwt.run_queue();
  ring.set(XS_RING_RSP_PROD, ring.get(XS_RING_RSP_CONS) + 5000);
  ch.fire();
  assert.match(String((error(a) as Error).message), /corrupt response ring indices/);
  assert.instance(werr, XsProtocolError);
});

M('replies delivered a byte at a time, an error reply, and a watch event by token', () => {
  const { xs, requests, reply, settled, error, notified } = rig();
  const seen: string[] = [];
  xs.watch('/w').subscribe((p) => seen.push(p));
  const a = xs.read('a');
  const b = xs.read('b');
  Lwt.run_queue();
  const [rw, ra, rb] = requests();
  assert.is(rw!.type, XS_WATCH);
  const token = new TextDecoder().decode(rw!.payload).split('\0')[1]!;
  const frames = [
    encodeMessage(XS_WATCH, rw!.reqId, 0, new Uint8Array([79, 75, 0])),
    encodeMessage(XS_WATCH_EVENT, 0, 0, new TextEncoder().encode(`/w/x\0${token}\0`)),
    encodeMessage(XS_WATCH_EVENT, 0, 0, new TextEncoder().encode(`/w/y\0other-token\0`)),
    // replies out of order
    encodeMessage(16, rb!.reqId, 0, new TextEncoder().encode('EACCES\0')),
    encodeMessage(XS_READ, ra!.reqId, 0, new TextEncoder().encode('value a')),
  ];
  const n0 = notified();
  for (const f of frames) for (let i = 0; i < f.length; i++) reply(f.subarray(i, i + 1));
  assert.equal(seen, ['/w/x']);
  assert.is(settled(a), 'fulfilled');
  assert.is(a.value(), 'value a');
  const e = error(b) as XsError;
  assert.instance(e, XsError);
  assert.is(e.errno, 'EACCES');
  // one notify per consume
  assert.ok(notified() - n0 >= frames.reduce((s, f) => s + f.length, 0));
});

M('the ring error field (set by the daemon) fails outstanding requests on the next wakeup', () => {
  const { xs, ring, ch, error } = rig();
  const a = xs.read('a');
  Lwt.run_queue();
  ring.set(XS_RING_ERROR, 3);
  ch.fire();
  assert.match(String((error(a) as Error).message), /marked the ring broken \(error 3 = PROTO\)/);
});

M('a full request ring: the writer waits for the consumer, then finishes', () => {
  const { xs, ring, ch, requests, settled } = rig();
  const big = 'q'.repeat(3000);
  const w = xs.write('k', big);
  Lwt.run_queue();
  assert.is((ring.get(XS_RING_REQ_PROD) - ring.get(XS_RING_REQ_CONS)) >>> 0, 1024);
  assert.is(xs.stats.writeWaits, 1);
  let got: XsMessage[] = [];
  for (let i = 0; i < 10 && got.length === 0; i++) {
    got = requests();
    ch.fire();
    Lwt.run_queue();
  }
  assert.is(got.length, 1);
  assert.is(got[0]!.payload.length, 2 + 3000);
  assert.is(settled(w), 'pending');
});

M.run();
