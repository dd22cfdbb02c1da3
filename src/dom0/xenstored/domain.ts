// Domains known to the daemon (cxenstored's struct domain), indexed by domid
// so every lookup is O(1) (4.17's linked list made domain creation quadratic).

import { DOMID_FIRST_RESERVED } from '../../abi/xen.ts';
import type { Connection } from './connection.ts';

export interface XsdDomain {
  readonly domid: number;
  /** Store generation when this incarnation of the domid appeared (XSA-322). */
  readonly generation: number;
  /** INTRODUCEd (or dom0). A domain only named in perms exists but is not introduced. */
  introduced: boolean;
  conn: Connection | undefined;
  port: number;
  gfn: number;
  /** SET_TARGET: this domain has the rights of `target` (a stub domain serving it). */
  target: number | undefined;
  shutdown: boolean;
}

export class DomainTable {
  private readonly byId = new Map<number, XsdDomain>();

  get(domid: number): XsdDomain | undefined {
    return this.byId.get(domid);
  }

  /** find_or_alloc_existing_domain: every domid below DOMID_FIRST_RESERVED exists (no hypervisor to ask). */
  getOrAlloc(domid: number, generation: number): XsdDomain | undefined {
    let d = this.byId.get(domid);
    if (d) return d;
    if (domid >= DOMID_FIRST_RESERVED) return undefined;
    d = { domid, generation, introduced: false, conn: undefined, port: 0, gfn: 0, target: undefined, shutdown: false };
    this.byId.set(domid, d);
    return d;
  }

  delete(domid: number): void {
    this.byId.delete(domid);
  }

  generationOf = (domid: number): number | undefined => this.byId.get(domid)?.generation;

  all(): IterableIterator<XsdDomain> {
    return this.byId.values();
  }
}
