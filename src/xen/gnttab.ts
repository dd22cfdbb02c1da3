// Grant tables v1 (docs/architecture.md §5.4). Each domain owns a table of 8-byte
// grant_entry_v1 {flags u16, domid u16, frame u32}, 512 per 4 KiB frame,
// that it writes itself (the guest maps the frames with
// XENMEM_add_to_physmap(XENMAPSPACE_grant_table, idx, gpfn)). A grant says
// "domain `domid` may access my page `frame` (a gpfn)", read-only with
// GTF_readonly.
//
// Mapping (dom0's backends: netback, blkback) pins the entry: Xen sets
// GTF_reading, and GTF_writing for a writable map, in the *granter's* entry,
// and clears them with the last mapping. That is what makes revocation fail
// while a backend holds a page: the guest revokes with a compare-and-swap of
// flags from {permit_access[|readonly]} to 0, and the CAS fails as long as
// reading/writing are set ("cannot be done directly"). A destroyed domain
// whose pages are still mapped stays a dying zombie until the last unmap.
//
// The map returns the granter's very ArrayBuffer: backend and frontend share
// the bytes, as with a real foreign mapping.
import {
  DOMID_SELF, GNTCOPY, GNTMAP, GNTST, GNTTAB_COPY, GNTTAB_ENTRIES_PER_FRAME, GNTTAB_MAP_GRANT_REF, GNTTAB_QUERY_SIZE,
  GNTTAB_SETUP_TABLE, GNTTAB_UNMAP_GRANT_REF, GNTTABOP, GRANT_ENTRY_V1, GTF, PAGE_SIZE, XEN_E,
} from '../abi/xen.ts';
import type { Domain } from './domain.ts';
import type { Vcpu } from './vcpu.ts';

/** Grant-table frames a domain may have (Xen's default max_grant_frames is 64; 32 is plenty here). */
export const MAX_GRANT_FRAMES = 32;
/** What setup_table reports as frame numbers: not usable by a PVH guest (it maps frames with add_to_physmap). */
export const GRANT_PSEUDO_MFN_BASE = 0xfee00;

export interface MapResult {
  status: number;
  /** Maptrack handle (>= 0) on success, -1 otherwise. */
  handle: number;
  /** The granted page (the granter's own buffer) on success. */
  page: ArrayBuffer | undefined;
}

/** One side of a grant copy: a grant ref of `domid`, or a gmfn (gpfn) of the caller. */
export interface CopyPtr {
  ref?: number;
  gmfn?: number;
  domid: number;
  offset: number;
}

interface Mapping {
  granter: Domain;
  ref: number;
  readonly: boolean;
  page: ArrayBuffer;
  /** Guest mapper: the gpfn remapped to the page, else -1. */
  hostGpfn: number;
}

interface Pins {
  rd: number;
  wr: number;
}

/** A failed map. Module level: a closure per map() call would be named (defineProperty) each time under tsx's keepNames. */
function fail(status: number): MapResult {
  return { status, handle: -1, page: undefined };
}

export class GrantTable {
  /** This domain's grant-table frames (it is the granter). */
  readonly frames: ArrayBuffer[] = [];
  private readonly views: DataView[] = [];
  /** ref -> pin counts by mappers. */
  private readonly pins = new Map<number, Pins>();
  /** Mappings other domains hold of this domain's grants. */
  foreignMapCount = 0;
  /** Mappings this domain holds (its maptrack), by handle. */
  private readonly maptrack: (Mapping | undefined)[] = [];
  private readonly freeHandles: number[] = [];
  private live = 0;

  constructor(private readonly dom: Domain) {}

  get nrFrames(): number {
    return this.frames.length;
  }

  get nrEntries(): number {
    return this.frames.length * GNTTAB_ENTRIES_PER_FRAME;
  }

  /** Mappings this domain holds of other domains' grants. */
  get mappedCount(): number {
    return this.live;
  }

  /** Grow the table to `n` frames (gnttab_grow_table). False if beyond the maximum. */
  grow(n: number): boolean {
    if (n >>> 0 !== n || n > MAX_GRANT_FRAMES) return false;
    while (this.frames.length < n) {
      const f = new ArrayBuffer(PAGE_SIZE);
      this.frames.push(f);
      this.views.push(new DataView(f));
    }
    return true;
  }

  private entryFlags(ref: number): number {
    return this.views[ref >> 9]!.getUint16((ref & 511) * GRANT_ENTRY_V1.size + GRANT_ENTRY_V1.flags, true);
  }

  private setEntryFlags(ref: number, flags: number): void {
    this.views[ref >> 9]!.setUint16((ref & 511) * GRANT_ENTRY_V1.size + GRANT_ENTRY_V1.flags, flags, true);
  }

  /** The entry as the granter wrote it (undefined if ref is beyond the table). */
  entry(ref: number): { flags: number; domid: number; frame: number } | undefined {
    if (ref >>> 0 !== ref || ref >= this.nrEntries) return undefined;
    const dv = this.views[ref >> 9]!;
    const o = (ref & 511) * GRANT_ENTRY_V1.size;
    return { flags: dv.getUint16(o, true), domid: dv.getUint16(o + 2, true), frame: dv.getUint32(o + 4, true) };
  }

  /**
   * The active entries (pinned by a mapping), ascending ref, for the 'g' key:
   * pin packs Xen's counters (GNTPIN_hstw_inc 1 << 0, GNTPIN_hstr_inc 1 << 8).
   */
  activeEntries(): { ref: number; pin: number; domid: number; frame: number; flags: number }[] {
    const out = [];
    for (const [ref, p] of [...this.pins].sort((a, b) => a[0] - b[0])) {
      const e = this.entry(ref);
      if (e && p.rd + p.wr > 0) out.push({ ref, pin: (p.wr & 0xff) | ((p.rd & 0xff) << 8), ...e });
    }
    return out;
  }

  /** Maptrack slots this domain has used (Xen grows the maptrack by frames of 256 entries and never shrinks it). */
  get maptrackSlots(): number {
    return this.maptrack.length;
  }

  // ---- granter side, for host domains and tests (a guest writes its table itself) ----

  /** Write a grant: domid, frame, then flags (the order a guest uses, with a barrier before flags). */
  grantAccess(ref: number, domid: number, gpfn: number, readonly = false): number {
    if (ref >>> 0 !== ref) return -XEN_E.EINVAL;
    if (ref >= this.nrEntries && !this.grow((ref >> 9) + 1)) return -XEN_E.ENOSPC;
    const dv = this.views[ref >> 9]!;
    const o = (ref & 511) * GRANT_ENTRY_V1.size;
    dv.setUint16(o + 2, domid, true);
    dv.setUint32(o + 4, gpfn >>> 0, true);
    dv.setUint16(o, GTF.permit_access | (readonly ? GTF.readonly : 0), true);
    return 0;
  }

  /**
   * Revoke a grant the way a guest does (gnttab_end_foreign_access_ref): CAS
   * flags from their value without reading/writing to 0. Fails (false) while
   * a mapper holds the page.
   */
  endAccess(ref: number): boolean {
    if (ref >>> 0 !== ref || ref >= this.nrEntries) return false;
    const f = this.entryFlags(ref);
    if (f & (GTF.reading | GTF.writing)) return false;
    this.setEntryFlags(ref, 0);
    return true;
  }

  // ---- mapper side (dom0's backends call these; hypercalls too) ----

  /** GNTTABOP_map_grant_ref of (granter, ref). `hostGpfn` >= 0: also make the page appear there (guest mappers). */
  map(granterDomid: number, ref: number, readonly: boolean, hostGpfn = -1): MapResult {
    const granter = this.dom.hv.domain(granterDomid === DOMID_SELF ? this.dom.id : granterDomid);
    if (!granter || granter.dying) return fail(GNTST.bad_domain);
    const gt = granter.gnttab;
    if (ref >>> 0 !== ref || ref >= gt.nrEntries) return fail(GNTST.bad_gntref);
    const e = gt.entry(ref)!;
    if ((e.flags & GTF.type_mask) !== GTF.permit_access || e.domid !== this.dom.id) return fail(GNTST.general_error);
    if (!readonly && e.flags & GTF.readonly) return fail(GNTST.permission_denied);
    if (!granter.physmap.validGpfn(e.frame)) return fail(GNTST.general_error);
    if (hostGpfn !== -1 && !this.dom.physmap.validGpfn(hostGpfn)) return fail(GNTST.bad_virt_addr);
    const page = granter.physmap.frame(e.frame);
    let p = gt.pins.get(ref);
    if (!p) {
      p = { rd: 0, wr: 0 };
      gt.pins.set(ref, p);
    }
    if (readonly) p.rd++;
    else p.wr++;
    gt.setEntryFlags(ref, gt.entryFlags(ref) | GTF.reading | (readonly ? 0 : GTF.writing));
    gt.foreignMapCount++;
    const handle = this.freeHandles.pop() ?? this.maptrack.length;
    this.maptrack[handle] = { granter, ref, readonly, page, hostGpfn };
    this.live++;
    if (hostGpfn !== -1) this.dom.physmap.remap(hostGpfn, page);
    return { status: GNTST.okay, handle, page };
  }

  /** GNTTABOP_unmap_grant_ref: flags clear with the last mapping; a dying granter may be reaped. */
  unmap(handle: number): number {
    const m = handle >>> 0 === handle ? this.maptrack[handle] : undefined;
    if (!m) return GNTST.bad_handle;
    this.maptrack[handle] = undefined;
    this.freeHandles.push(handle);
    this.live--;
    if (m.hostGpfn !== -1) this.dom.physmap.restore(m.hostGpfn);
    const gt = m.granter.gnttab;
    const p = gt.pins.get(m.ref);
    if (p) {
      if (m.readonly) p.rd--;
      else p.wr--;
      let f = gt.entryFlags(m.ref);
      if (p.wr === 0) f &= ~GTF.writing;
      if (p.rd + p.wr === 0) {
        f &= ~GTF.reading;
        gt.pins.delete(m.ref);
      }
      gt.setEntryFlags(m.ref, f);
    }
    gt.foreignMapCount--;
    if (m.granter.dying && gt.foreignMapCount === 0) this.dom.hv.reap(m.granter.id);
    return GNTST.okay;
  }

  /** The mapping behind a handle (for dom0 code and dumps). */
  mapping(handle: number): { granter: number; ref: number; readonly: boolean; page: ArrayBuffer } | undefined {
    const m = this.maptrack[handle];
    return m && { granter: m.granter.id, ref: m.ref, readonly: m.readonly, page: m.page };
  }

  /** Handles of the mappings held of `granter`'s grants. */
  handlesOf(granter: number): number[] {
    const out: number[] = [];
    this.maptrack.forEach((m, h) => { if (m && m.granter.id === granter) out.push(h); });
    return out;
  }

  /** Domain destruction: drop every mapping this domain holds. */
  releaseAll(): void {
    for (let h = 0; h < this.maptrack.length; h++) if (this.maptrack[h]) this.unmap(h);
  }

  private resolve(ptr: CopyPtr, isGref: boolean, write: boolean): { page: ArrayBuffer } | number {
    const me = this.dom;
    const domid = ptr.domid === DOMID_SELF ? me.id : ptr.domid;
    if (isGref) {
      const d = me.hv.domain(domid);
      if (!d || d.dying) return GNTST.bad_domain;
      const ref = ptr.ref ?? -1;
      if (ref >>> 0 !== ref || ref >= d.gnttab.nrEntries) return GNTST.bad_gntref;
      const e = d.gnttab.entry(ref)!;
      if ((e.flags & GTF.type_mask) !== GTF.permit_access || e.domid !== me.id) return GNTST.general_error;
      if (write && e.flags & GTF.readonly) return GNTST.permission_denied;
      if (!d.physmap.validGpfn(e.frame)) return GNTST.general_error;
      return { page: d.physmap.frame(e.frame) };
    }
    if (domid !== me.id) return GNTST.permission_denied; // by gmfn only for one's own memory
    const g = ptr.gmfn ?? -1;
    if (!me.physmap.validGpfn(g)) return GNTST.bad_page;
    return { page: me.physmap.frame(g) };
  }

  /** GNTTABOP_copy of `len` bytes; no page crossing. `flags`: GNTCOPY_source_gref | dest_gref. */
  copy(source: CopyPtr, dest: CopyPtr, len: number, flags = GNTCOPY.source_gref | GNTCOPY.dest_gref): number {
    if (len >>> 0 !== len || source.offset >>> 0 !== source.offset || dest.offset >>> 0 !== dest.offset) return GNTST.bad_copy_arg;
    if (source.offset + len > PAGE_SIZE || dest.offset + len > PAGE_SIZE) return GNTST.bad_copy_arg;
    const s = this.resolve(source, (flags & GNTCOPY.source_gref) !== 0, false);
    if (typeof s === 'number') return s;
    const d = this.resolve(dest, (flags & GNTCOPY.dest_gref) !== 0, true);
    if (typeof d === 'number') return d;
    new Uint8Array(d.page, dest.offset, len).set(new Uint8Array(s.page, source.offset, len));
    return GNTST.okay;
  }
}

/** grant_table_op(cmd, uop, count) from a guest: decode each struct, run it, write status back. */
export function grantTableOp(v: Vcpu, cmd: number, uop: number, count: number): number {
  const dom = v.dom;
  const pm = dom.physmap;
  const EFAULT = -XEN_E.EFAULT;
  if (count >>> 0 !== count || count > 512) return -XEN_E.EINVAL;
  switch (cmd) {
    case GNTTABOP.map_grant_ref: {
      const S = GNTTAB_MAP_GRANT_REF;
      if (!pm.validRange(uop, S.size * count)) return EFAULT;
      for (let i = 0; i < count; i++) {
        pm.withStruct(uop + i * S.size, S.size, EFAULT, (dv, o) => {
          const flags = dv.getUint32(o + S.flags, true);
          const ref = dv.getUint32(o + S.ref, true);
          const gd = dv.getUint16(o + S.dom, true);
          const hostAddr = Number(dv.getBigUint64(o + S.host_addr, true));
          const ro = (flags & GNTMAP.readonly) !== 0;
          let r: MapResult;
          if ((flags & (GNTMAP.host_map | GNTMAP.device_map)) === 0) r = { status: GNTST.general_error, handle: -1, page: undefined };
          else r = dom.gnttab.map(gd, ref, ro, flags & GNTMAP.host_map ? Math.floor(hostAddr / PAGE_SIZE) : -1);
          dv.setInt16(o + S.status, r.status, true);
          dv.setUint32(o + S.handle, r.handle >>> 0, true);
          return 0;
        });
      }
      return 0;
    }
    case GNTTABOP.unmap_grant_ref: {
      const S = GNTTAB_UNMAP_GRANT_REF;
      if (!pm.validRange(uop, S.size * count)) return EFAULT;
      for (let i = 0; i < count; i++) {
        pm.withStruct(uop + i * S.size, S.size, EFAULT, (dv, o) => {
          dv.setInt16(o + S.status, dom.gnttab.unmap(dv.getUint32(o + S.handle, true)), true);
          return 0;
        });
      }
      return 0;
    }
    case GNTTABOP.copy: {
      const S = GNTTAB_COPY;
      if (!pm.validRange(uop, S.size * count)) return EFAULT;
      for (let i = 0; i < count; i++) {
        pm.withStruct(uop + i * S.size, S.size, EFAULT, (dv, o) => {
          const ptr = (b: number): CopyPtr => {
            const u = Number(dv.getBigUint64(o + b + S.ptr_u, true));
            return { ref: u, gmfn: u, domid: dv.getUint16(o + b + S.ptr_domid, true), offset: dv.getUint16(o + b + S.ptr_offset, true) };
          };
          const st = dom.gnttab.copy(ptr(S.source), ptr(S.dest), dv.getUint16(o + S.len, true), dv.getUint16(o + S.flags, true));
          dv.setInt16(o + S.status, st, true);
          return 0;
        });
      }
      return 0;
    }
    case GNTTABOP.setup_table: {
      const S = GNTTAB_SETUP_TABLE;
      if (count !== 1) return -XEN_E.EINVAL;
      return pm.withStruct(uop, S.size, EFAULT, (dv, o) => {
        const d = dv.getUint16(o + S.dom, true);
        const n = dv.getUint32(o + S.nr_frames, true);
        const list = Number(dv.getBigUint64(o + S.frame_list, true));
        if (d !== DOMID_SELF && d !== dom.id) {
          dv.setInt16(o + S.status, GNTST.permission_denied, true);
          return 0;
        }
        if (n > MAX_GRANT_FRAMES) {
          dv.setInt16(o + S.status, GNTST.general_error, true);
          return 0;
        }
        if (n > 0 && !pm.validRange(list, 8 * n)) return EFAULT;
        dom.gnttab.grow(Math.max(n, dom.gnttab.nrFrames));
        const out = new Uint8Array(8 * n);
        const odv = new DataView(out.buffer);
        for (let i = 0; i < n; i++) odv.setBigUint64(i * 8, BigInt(GRANT_PSEUDO_MFN_BASE + i), true);
        pm.write(list, out);
        dv.setInt16(o + S.status, GNTST.okay, true);
        return 0;
      });
    }
    case GNTTABOP.query_size: {
      const S = GNTTAB_QUERY_SIZE;
      if (count !== 1) return -XEN_E.EINVAL;
      return pm.withStruct(uop, S.size, EFAULT, (dv, o) => {
        const d = dv.getUint16(o + S.dom, true);
        if (d !== DOMID_SELF && d !== dom.id) {
          dv.setInt16(o + S.status, GNTST.permission_denied, true);
          return 0;
        }
        dv.setUint32(o + S.nr_frames, dom.gnttab.nrFrames, true);
        dv.setUint32(o + S.max_nr_frames, MAX_GRANT_FRAMES, true);
        dv.setInt16(o + S.status, GNTST.okay, true);
        return 0;
      });
    }
    default:
      return -XEN_E.ENOSYS;
  }
}
