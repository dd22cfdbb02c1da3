import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DOMID_SELF, GNTCOPY, GNTMAP, GNTST, GNTTAB_MAP_GRANT_REF, GNTTAB_UNMAP_GRANT_REF, GNTTABOP, GTF, HYPERVISOR, XEN_ADD_TO_PHYSMAP, XENMAPSPACE, XENMEM_add_to_physmap } from '../../src/abi/xen.ts';
import { args, guest, running, setup } from './_helpers.ts';

const t = suite('gnttab');

t('map sets reading/writing, shares the page, blocks revocation; unmap clears with the last mapping', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  assert.is(d.gnttab.grantAccess(8, 0, 5), 0);
  const m1 = dom0.gnttab.map(d.id, 8, false);
  assert.is(m1.status, GNTST.okay);
  assert.is(m1.page, d.physmap.frame(5), 'the very same page');
  new Uint8Array(m1.page!)[0] = 0xab;
  assert.is(new Uint8Array(d.physmap.frame(5))[0], 0xab);
  assert.is(d.gnttab.entry(8)!.flags, GTF.permit_access | GTF.reading | GTF.writing);
  assert.is(d.gnttab.foreignMapCount, 1);
  assert.is(dom0.gnttab.mappedCount, 1);
  const m2 = dom0.gnttab.map(d.id, 8, true);
  assert.is(m2.status, GNTST.okay);
  assert.not.ok(d.gnttab.endAccess(8), 'in use: the guest CAS fails');
  assert.is(dom0.gnttab.unmap(m1.handle), GNTST.okay);
  assert.is(d.gnttab.entry(8)!.flags, GTF.permit_access | GTF.reading, 'writing cleared, a reader remains');
  assert.not.ok(d.gnttab.endAccess(8));
  assert.is(dom0.gnttab.unmap(m2.handle), GNTST.okay);
  assert.is(d.gnttab.entry(8)!.flags, GTF.permit_access);
  assert.is(dom0.gnttab.unmap(m2.handle), GNTST.bad_handle);
  assert.is(dom0.gnttab.unmap(-1), GNTST.bad_handle);
  assert.ok(d.gnttab.endAccess(8));
  assert.is(d.gnttab.entry(8)!.flags, 0);
  assert.is(dom0.gnttab.map(d.id, 8, false).status, GNTST.general_error, 'revoked');
  assert.is(d.gnttab.foreignMapCount, 0);
});

t('map errors: bad domain, bad ref, wrong grantee, read-only', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const e = guest(hv, 'e');
  d.gnttab.grantAccess(9, e.id, 5);
  d.gnttab.grantAccess(10, 0, 6, true);
  assert.is(dom0.gnttab.map(42, 9, false).status, GNTST.bad_domain);
  assert.is(dom0.gnttab.map(d.id, 100000, false).status, GNTST.bad_gntref);
  assert.is(dom0.gnttab.map(d.id, 9, false).status, GNTST.general_error, 'granted to e, not dom0');
  assert.is(e.gnttab.map(d.id, 9, true).status, GNTST.okay);
  assert.is(dom0.gnttab.map(d.id, 10, false).status, GNTST.permission_denied, 'writable map of a read-only grant');
  const ro = dom0.gnttab.map(d.id, 10, true);
  assert.is(ro.status, GNTST.okay);
  assert.is(d.gnttab.entry(10)!.flags, GTF.permit_access | GTF.readonly | GTF.reading);
  d.gnttab.grantAccess(11, 0, 1 << 20);
  assert.is(dom0.gnttab.map(d.id, 11, false).status, GNTST.general_error, 'frame outside the granter');
});

t('copy: gref <-> gmfn, offsets, read-only destination', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  d.gnttab.grantAccess(8, 0, 5);
  d.gnttab.grantAccess(9, 0, 6, true);
  new Uint8Array(dom0.physmap.frame(100)).set([1, 2, 3, 4], 10);
  assert.is(dom0.gnttab.copy({ gmfn: 100, domid: DOMID_SELF, offset: 10 }, { ref: 8, domid: d.id, offset: 4000 }, 4, GNTCOPY.dest_gref), GNTST.okay);
  assert.equal(Array.from(new Uint8Array(d.physmap.frame(5), 4000, 4)), [1, 2, 3, 4]);
  assert.is(dom0.gnttab.copy({ ref: 8, domid: d.id, offset: 4000 }, { gmfn: 101, domid: DOMID_SELF, offset: 0 }, 4, GNTCOPY.source_gref), GNTST.okay);
  assert.equal(Array.from(new Uint8Array(dom0.physmap.frame(101), 0, 4)), [1, 2, 3, 4]);
  assert.is(dom0.gnttab.copy({ gmfn: 100, domid: DOMID_SELF, offset: 0 }, { ref: 8, domid: d.id, offset: 4090 }, 10, GNTCOPY.dest_gref), GNTST.bad_copy_arg, 'crosses the page');
  assert.is(dom0.gnttab.copy({ gmfn: 100, domid: DOMID_SELF, offset: 0 }, { ref: 9, domid: d.id, offset: 0 }, 4, GNTCOPY.dest_gref), GNTST.permission_denied, 'read-only dest');
  assert.is(dom0.gnttab.copy({ ref: 9, domid: d.id, offset: 0 }, { gmfn: 100, domid: DOMID_SELF, offset: 0 }, 4, GNTCOPY.source_gref), GNTST.okay, 'read-only source is fine');
  assert.is(dom0.gnttab.copy({ gmfn: 5, domid: d.id, offset: 0 }, { gmfn: 100, domid: DOMID_SELF, offset: 0 }, 4, 0), GNTST.permission_denied, 'gmfn of another domain');
  assert.is(dom0.gnttab.copy({ ref: 77, domid: d.id, offset: 0 }, { gmfn: 100, domid: DOMID_SELF, offset: 0 }, 4, GNTCOPY.source_gref), GNTST.general_error);
  assert.is(dom0.gnttab.copy({ ref: 1 << 20, domid: d.id, offset: 0 }, { gmfn: 100, domid: DOMID_SELF, offset: 0 }, 4, GNTCOPY.source_gref), GNTST.bad_gntref);
});

t('a destroyed domain with mapped grants stays a --p--d zombie until the last unmap', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  let reaped = -1;
  hv.onReap = (id) => { reaped = id; };
  const p = dom0.evtchn.allocUnbound(d.id);
  d.evtchn.bindInterdomain(0, p);
  d.gnttab.grantAccess(13, 0, 5);
  d.gnttab.grantAccess(28, 0, 6);
  const a = dom0.gnttab.map(d.id, 13, false);
  const b = dom0.gnttab.map(d.id, 28, false);
  assert.is(hv.destroyDomain(d.id), 0);
  assert.is(hv.domain(d.id), d, 'still listed');
  assert.is(d.stateFlags(), '--p--d');
  assert.is(d.totKiB, 8);
  assert.is(dom0.evtchn.state[p], 2, "dom0's end went back to UNBOUND");
  assert.is(dom0.gnttab.map(d.id, 13, false).status, GNTST.bad_domain, 'no new maps of a dying domain');
  dom0.gnttab.unmap(a.handle);
  assert.ok(hv.domain(d.id));
  dom0.gnttab.unmap(b.handle);
  assert.is(hv.domain(d.id), undefined, 'reaped');
  assert.is(reaped, d.id);
  assert.is(hv.destroyDomain(d.id), -3);
});

t('guest path: the table mapped with add_to_physmap, map/unmap hypercalls with host_addr', () => {
  const { hv, dom0 } = setup();
  const d = guest(hv);
  const e = guest(hv, 'mapper');
  const v = d.vcpus[0]!;
  running(v);
  let a = args(d);
  a.setUint16(XEN_ADD_TO_PHYSMAP.domid, DOMID_SELF, true);
  a.setUint32(XEN_ADD_TO_PHYSMAP.space, XENMAPSPACE.grant_table, true);
  a.setBigUint64(XEN_ADD_TO_PHYSMAP.idx, 0n, true);
  a.setBigUint64(XEN_ADD_TO_PHYSMAP.gpfn, 20n, true);
  assert.is(v.hypercall(HYPERVISOR.memory_op, XENMEM_add_to_physmap, 0), 0);
  assert.is(d.physmap.frame(20), d.gnttab.frames[0]);
  // The guest writes entry 8: domid e, frame 7, then flags.
  const gt = new DataView(v.frame(20));
  gt.setUint16(8 * 8 + 2, e.id, true);
  gt.setUint32(8 * 8 + 4, 7, true);
  gt.setUint16(8 * 8, GTF.permit_access, true);
  new Uint8Array(d.physmap.frame(7))[0] = 42;
  // e maps it at its gpfn 30 through the hypercall.
  const w = e.vcpus[0]!;
  running(w);
  a = args(e);
  const S = GNTTAB_MAP_GRANT_REF;
  a.setBigUint64(S.host_addr, 30n * 4096n, true);
  a.setUint32(S.flags, GNTMAP.host_map, true);
  a.setUint32(S.ref, 8, true);
  a.setUint16(S.dom, d.id, true);
  assert.is(w.hypercall(HYPERVISOR.grant_table_op, GNTTABOP.map_grant_ref, 0, 1), 0);
  assert.is(a.getInt16(S.status, true), GNTST.okay);
  const handle = a.getUint32(S.handle, true);
  assert.is(new Uint8Array(w.frame(30))[0], 42, 'the page appears at host_addr');
  assert.is(gt.getUint16(8 * 8, true), GTF.permit_access | GTF.reading | GTF.writing, 'the guest sees the flags');
  const U = GNTTAB_UNMAP_GRANT_REF;
  a.setUint32(64 + U.handle, handle, true);
  assert.is(w.hypercall(HYPERVISOR.grant_table_op, GNTTABOP.unmap_grant_ref, 64, 1), 0);
  assert.is(a.getInt16(64 + U.status, true), GNTST.okay);
  assert.is(new Uint8Array(w.frame(30))[0], 0, 'own frame back');
  assert.is(gt.getUint16(8 * 8, true), GTF.permit_access);
  assert.is(w.hypercall(HYPERVISOR.grant_table_op, 99, 0, 1), -38);
  void dom0;
});

t.run();
