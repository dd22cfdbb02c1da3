// How xenstored reaches a guest's store ring from dom0, as cxenstored does
// through libxengnttab/libxenevtchn (tools/xenstored/domain.c: map_interface,
// introduce_domain): map the guest's grant ref 1 (GNTTAB_RESERVED_XENSTORE,
// seeded by the domain builder) and bind an interdomain port to the guest's
// store port. An event on that port kicks the daemon; the daemon notifies the
// guest through the same port. When the domain dies, xenstored releases it and
// the ring is unmapped and the port closed (domain_cleanup), so the domain can
// go unless a backend still maps its pages.

import { GNTTAB_RESERVED_XENSTORE, XEN_E } from '../../abi/xen.ts';
import type { Dom0Host } from './host.ts';

export interface StoreRing {
  page: ArrayBuffer;
  notify(): void;
}

export class XenstoreRings {
  /** domid -> the grant handle and dom0's port; written only by map/unmap (plain calls, no `yield*`). */
  private readonly maps = new Map<number, { handle: number; port: number }>();

  constructor(
    private readonly dom0: Dom0Host,
    /** The daemon's "this domain's ring has work" entry. */
    private readonly kick: (domid: number) => void,
  ) {}

  /** introduce_domain's map_interface + bind: the ring, or -errno with nothing left mapped or bound. */
  map(domid: number, _gfn: number, port: number): StoreRing | number {
    const m = this.dom0.gnttab.map(domid, GNTTAB_RESERVED_XENSTORE, false);
    if (m.status !== 0 || !m.page) return -XEN_E.EINVAL;
    const lport = this.dom0.evtchn.bindInterdomain(domid, port);
    if (lport < 0) {
      this.dom0.gnttab.unmap(m.handle);
      return lport;
    }
    this.dom0.bindHandler(lport, () => this.kick(domid), 'xenstored');
    this.maps.set(domid, { handle: m.handle, port: lport });
    return { page: m.page, notify: () => void this.dom0.evtchn.send(lport) };
  }

  /** dom0's port for `domid`'s store ring (the 'e' dump's p= on the guest's port 1). */
  port(domid: number): number | undefined {
    return this.maps.get(domid)?.port;
  }

  unmap(domid: number): void {
    const m = this.maps.get(domid);
    if (!m) return;
    this.maps.delete(domid);
    this.dom0.evtchn.close(m.port);
    this.dom0.gnttab.unmap(m.handle);
  }
}
