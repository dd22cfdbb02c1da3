import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BackRing, FrontRing, ringSize } from '../../../src/abi/ring.ts';
import { NET_RX_RING_SIZE, NET_TX_RING_SIZE, NETIF_TX_ENTRY, decodeTxRequest, encodeTxRequest, encodeTxResponse, decodeTxResponse } from '../../../src/abi/netif.ts';
import { BLK_RING_SIZE, BLKIF_ENTRY, decodeRequest, encodeRequest } from '../../../src/abi/blkif.ts';

const t = suite('ring.h, netif.h, blkif.h');

t('ring sizes round down to a power of two', () => {
  assert.is(NET_TX_RING_SIZE, 256);
  assert.is(NET_RX_RING_SIZE, 256);
  assert.is(BLKIF_ENTRY, 112);
  assert.is(BLK_RING_SIZE, 32);
  assert.is(ringSize(16), 128);
});

t('front/back exchange with notify decisions and final checks', () => {
  const page = new ArrayBuffer(4096);
  const f = FrontRing.init(page, NETIF_TX_ENTRY);
  const b = BackRing.attach(page, NETIF_TX_ENTRY);
  const dv = f.sring.dv;
  encodeTxRequest(dv, f.nextRequest(), { gref: 9, offset: 0, flags: 0, id: 3, size: 200 });
  assert.ok(f.pushRequestsAndCheckNotify(), 'first request crosses req_event = 1');
  encodeTxRequest(dv, f.nextRequest(), { gref: 10, offset: 0, flags: 0, id: 4, size: 60 });
  assert.not.ok(f.pushRequestsAndCheckNotify(), 'backend has not re-armed req_event');
  assert.is(b.unconsumedRequests(), 2);
  const r = decodeTxRequest(dv, b.nextRequest());
  assert.equal(r, { gref: 9, offset: 0, flags: 0, id: 3, size: 200 });
  b.nextRequest();
  assert.not.ok(b.finalCheckForRequests());
  assert.is(f.sring.req_event, 3);
  encodeTxResponse(dv, b.nextResponse(), { id: 3, status: 0 });
  assert.ok(b.pushResponsesAndCheckNotify());
  assert.equal(decodeTxResponse(dv, f.nextResponse()), { id: 3, status: 0 });
  assert.throws(() => encodeTxRequest(dv, 64, { gref: 1, offset: 70000, flags: 0, id: 0, size: 1 }), /u16/);
  assert.ok(b.requestProdOverflow(b.rsp_prod_pvt + 257));
});

t('blkif request round-trip at the x86_64 offsets', () => {
  const dv = new DataView(new ArrayBuffer(4096));
  encodeRequest(dv, 64, { operation: 1, handle: 51712, id: 0xdeadbeefcafen, sector_number: 8n, seg: [{ gref: 77, first_sect: 0, last_sect: 7 }] });
  assert.is(dv.getUint8(64 + 1), 1);
  assert.is(dv.getUint32(64 + 24, true), 77);
  assert.is(dv.getUint8(64 + 29), 7);
  const r = decodeRequest(dv, 64);
  assert.is(r.id, 0xdeadbeefcafen);
  assert.is(r.handle, 51712);
  assert.throws(() => encodeRequest(dv, 64, { operation: 0, handle: 0, id: 0n, sector_number: 0n, seg: [{ gref: 1, first_sect: 3, last_sect: 8 }] }));
});

t.run();
