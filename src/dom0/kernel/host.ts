// What dom0's kernel needs from the hypervisor: dom0's own Domain object
// (src/xen/domain.ts) seen through the host-side API. Structural, so the real
// Domain fits and tests may pass a smaller one.

/** MapResult of src/xen/gnttab.ts. */
export interface HostMapResult {
  status: number;
  handle: number;
  page: ArrayBuffer | undefined;
}

export interface Dom0Host {
  readonly id: number;
  readonly evtchn: {
    /** EVTCHNOP_bind_interdomain: local port or -errno. */
    bindInterdomain(rdom: number, rport: number): number;
    /** EVTCHNOP_send: 0 or -errno. */
    send(port: number): number;
    close(port: number): number;
  };
  readonly gnttab: {
    map(granterDomid: number, ref: number, readonly: boolean): HostMapResult;
    unmap(handle: number): number;
  };
  /** Run `fn(port)` from the host demux (a nestable sim task) when `port` fires. */
  bindHandler(port: number, fn: ((port: number) => void) | undefined, name?: string): number;
}

/**
 * GNTTABOP_copy between a grant and a dom0 buffer. dom0's skbs and bios are
 * JS buffers, not frames of dom0's physmap, so the copy is done as a short
 * map, memcpy, unmap: the same bytes move and the grant's reading/writing
 * bits are set only for the duration, as with the real hypercall.
 */
export function grantCopy(host: Dom0Host, domid: number, ref: number, offset: number, buf: Uint8Array, dir: 'from-grant' | 'to-grant'): number {
  if (offset < 0 || offset + buf.length > 4096) return -10; // GNTST_bad_copy_arg
  const m = host.gnttab.map(domid, ref, dir === 'from-grant');
  if (m.status !== 0 || !m.page) return m.status || -1;
  const page = new Uint8Array(m.page, offset, buf.length);
  if (dir === 'from-grant') buf.set(page);
  else page.set(buf);
  host.gnttab.unmap(m.handle);
  return 0;
}
