// The guest's grant table (v1) and page allocator, shared by every frontend
// (mirage-xen's `Gnttab`). Frame 0 of the table is mapped with
// XENMEM_add_to_physmap(XENMAPSPACE_grant_table); an entry is written domid,
// frame, then (after a barrier) flags; it can be revoked only when Xen has
// neither GTF_reading nor GTF_writing set, i.e. while no backend maps it.

import { DOMID_SELF, GNTTAB_NR_RESERVED_ENTRIES, GRANT_ENTRY_V1, GTF, HYPERVISOR, PAGE_SIZE, XEN_ADD_TO_PHYSMAP, XENMAPSPACE, XENMEM_add_to_physmap } from '../abi/xen.ts';
import { Main, Memory } from './runtime.ts';

/** The guest's page allocator: frames from Platform.nextFree, recycled. */
export const Pages = {
  free: [] as number[],
  alloc(): number {
    const f = Pages.free.pop();
    if (f !== undefined) return f;
    const p = Main.platform;
    if (p.nextFree >= p.nrFrames) throw new Error('out of guest frames');
    return p.nextFree++;
  },
  release(gpfn: number): void {
    new Uint8Array(Memory.frame(gpfn)).fill(0);
    Pages.free.push(gpfn);
  },
};

/** Grant table v1, frame 0 only (512 entries, the first 8 reserved). */
export class Gnttab {
  private static inst: Gnttab | undefined;
  private readonly gpfn: number;
  private readonly freeRefs: number[] = [];
  private nextRef = GNTTAB_NR_RESERVED_ENTRIES;
  /** Grants currently given (tests: a hand-over must bring this back to where it was). */
  live = 0;

  private constructor() {
    this.gpfn = Pages.alloc();
    const arg = Pages.alloc();
    const dv = new DataView(Memory.frame(arg));
    dv.setUint16(XEN_ADD_TO_PHYSMAP.domid, DOMID_SELF, true);
    dv.setUint16(XEN_ADD_TO_PHYSMAP.sz, 0, true);
    dv.setUint32(XEN_ADD_TO_PHYSMAP.space, XENMAPSPACE.grant_table, true);
    dv.setBigUint64(XEN_ADD_TO_PHYSMAP.idx, 0n, true);
    dv.setBigUint64(XEN_ADD_TO_PHYSMAP.gpfn, BigInt(this.gpfn), true);
    const rc = Main.platform.doors.hypercall(HYPERVISOR.memory_op, XENMEM_add_to_physmap, arg * PAGE_SIZE);
    Pages.release(arg);
    if (rc < 0) throw new Error(`gnttab: XENMEM_add_to_physmap(grant_table) = ${rc}`);
  }

  static get(): Gnttab {
    return (Gnttab.inst ??= new Gnttab());
  }

  private view(): DataView {
    // Fetched each time: the frame is the hypervisor's buffer remapped at gpfn.
    return new DataView(Memory.frame(this.gpfn));
  }

  /** gnttab_grant_foreign_access. */
  grant(domid: number, gpfn: number, readonly = false): number {
    const ref = this.freeRefs.pop() ?? this.nextRef++;
    if (ref >= PAGE_SIZE / GRANT_ENTRY_V1.size) throw new Error('gnttab: out of grant refs');
    const dv = this.view();
    const o = ref * GRANT_ENTRY_V1.size;
    dv.setUint16(o + GRANT_ENTRY_V1.domid, domid, true);
    dv.setUint32(o + GRANT_ENTRY_V1.frame, gpfn, true);
    Memory.point('gnttab: wmb before flags');
    dv.setUint16(o + GRANT_ENTRY_V1.flags, GTF.permit_access | (readonly ? GTF.readonly : 0), true);
    this.live++;
    return ref;
  }

  /** gnttab_end_foreign_access_ref: false while the backend still maps the page. */
  end(ref: number): boolean {
    const dv = this.view();
    const o = ref * GRANT_ENTRY_V1.size;
    Memory.point('gnttab: read flags');
    const f = dv.getUint16(o + GRANT_ENTRY_V1.flags, true);
    if (f & (GTF.reading | GTF.writing)) return false;
    dv.setUint16(o + GRANT_ENTRY_V1.flags, 0, true);
    this.freeRefs.push(ref);
    this.live--;
    return true;
  }
}
