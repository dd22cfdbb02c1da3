// Domains known to the daemon (cxenstored's struct domain), indexed by domid
// so every lookup is O(1) (4.17's linked list made domain creation quadratic).

import type { Connection } from './connection.ts';

/** DOMID_FIRST_RESERVED: ids from here on are not domains. */
export const DOMID_FIRST_RESERVED = 0x7ff0;

export interface Domain {
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
  private readonly byId = new Map<number, Domain>();

  get(domid: number): Domain | undefined {
    return this.byId.get(domid);
  }

  /** find_or_alloc_existing_domain: every domid below DOMID_FIRST_RESERVED exists (no hypervisor to ask). */
  getOrAlloc(domid: number, generation: number): Domain | undefined {
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

  all(): IterableIterator<Domain> {
    return this.byId.values();
  }
}
