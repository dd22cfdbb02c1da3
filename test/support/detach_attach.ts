// Detach/attach cycles on a running domain whose frontend really reconnects
// (issue 11, item 4): `xl network-detach` / `network-attach` under
// kernels/netfront.ts, `xl block-detach` / `block-attach` under
// kernels/blkfront.ts. Each cycle detaches (the guest closes and gives its
// grants back, libxl removes the dirs), attaches, and runs until the backend
// is Connected again and I/O passed on the new device. The counters are the
// lifecycle ones plus the guest's side (its ports, its live grant entries,
// dom0's mappings of them). Used by test/machine/detach_attach.test.ts and
// scripts/lifecycle_cycles.ts (--detach).
import { GRANT_ENTRY_V1, XenbusState } from '../../src/abi/xen.ts';
import { Machine } from '../../src/machine/machine.ts';
import { HOST_COUNTERS, machineCounters, type MachineCounters } from '../../src/machine/counters.ts';

export type Kind = 'vif' | 'vbd';

export interface DetachCounters extends MachineCounters {
  /** The guest's bound event channels. */
  guestPorts: number;
  /** Entries of the guest's grant table that grant access. */
  guestGrants: number;
  /** dom0's mappings of the guest's grants. */
  dom0MapsOfGuest: number;
}

/** What must come back exactly after every cycle. */
export const DETACH_EXACT: (keyof DetachCounters)[] = [...HOST_COUNTERS, 'guestPorts', 'guestGrants', 'dom0MapsOfGuest'];

const DOMID = 1;
const S = 1e9;
const MS = 1e6;

const CFG: Record<Kind, string> = {
  vif:
    `name = "nf"\nkernel = "kernels/netfront.ts"\nmemory = 64\nvcpus = 1\n` +
    `vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nextra = "tx=1500 interval=1ms"\n`,
  vbd:
    `name = "bf"\nkernel = "kernels/blkfront.ts"\nmemory = 64\nvcpus = 1\n` +
    `disk = [ 'format=raw, vdev=xvda, access=rw, target=mem:1' ]\nextra = "io=rw depth=4"\n`,
};

export function backendPath(kind: Kind): string {
  return kind === 'vif' ? `/local/domain/0/backend/vif/${DOMID}/0` : `/local/domain/0/backend/vbd/${DOMID}/51712`;
}

export function detachCounters(m: Machine): DetachCounters {
  const d = m.hv.domain(DOMID);
  let grants = 0;
  for (const f of d?.gnttab.frames ?? []) {
    const dv = new DataView(f);
    for (let o = 0; o + GRANT_ENTRY_V1.size <= f.byteLength; o += GRANT_ENTRY_V1.size) if ((dv.getUint16(o + GRANT_ENTRY_V1.flags, true) & 3) !== 0) grants++;
  }
  return {
    ...machineCounters(m),
    guestPorts: d ? d.evtchn.boundPorts().length : -1,
    guestGrants: grants,
    dom0MapsOfGuest: m.dom0.gnttab.handlesOf(DOMID).length,
  };
}

/** I/O the backend took from the guest's current device (0 when none). */
export function backendIo(m: Machine, kind: Kind): number {
  const k = m.kernel!;
  if (kind === 'vif') return k.netback.vifs.get(`vif${DOMID}.0`)?.stats.tx_zerocopy_success ?? 0;
  let n = 0;
  for (const b of k.blkback.blkifs) if (b.domid === DOMID) n += b.stats.rd_req + b.stats.wr_req;
  return n;
}

function state(m: Machine, path: string): number {
  const r = m.xenstoreRead(`${path}/state`);
  return r.code === 0 ? Number(r.stdout.trim()) : -1;
}

/** Run in 1 ms slices until `cond`, at most `limit` of virtual time. */
function runUntil(m: Machine, cond: () => boolean, limit: number): boolean {
  const end = m.sim.now + limit;
  while (!cond()) {
    if (m.sim.now >= end) return false;
    m.sim.run({ until: Math.min(end, m.sim.now + MS) });
  }
  return true;
}

/** A machine running the domain, connected and past its first I/O. */
export async function detachMachine(kind: Kind, seed: number): Promise<Machine> {
  const m = new Machine({ seed, xenpvQemu: false });
  m.files.set('d.cfg', CFG[kind]);
  const r = await m.xl('create d.cfg');
  if (r.code !== 0) throw new Error(`create: ${r.stderr}`);
  const be = backendPath(kind);
  if (!runUntil(m, () => state(m, be) === XenbusState.Connected && backendIo(m, kind) > 0, 5 * S)) throw new Error(`first connect: backend state ${state(m, be)}`);
  return m;
}

/**
 * One cycle: detach (xl waits for the backend's Closed, which needs the
 * frontend's Closed), check the device is gone, attach, run until the new
 * backend is Connected (the frontend reconnected) and has completed I/O,
 * then 2 ms more so in-flight I/O settles. Throws naming what did not happen.
 */
export function detachAttachCycle(m: Machine, kind: Kind, during?: (m: Machine) => void): void {
  const be = backendPath(kind);
  let r = m.xlSync(kind === 'vif' ? `network-detach ${DOMID} 0` : `block-detach ${DOMID} xvda`);
  if (r.code !== 0 || r.stderr !== '') throw new Error(`detach: ${r.code} ${r.stderr}`);
  if (m.xenstoreRead(`${be}/state`).code === 0) throw new Error('detach: the backend dir is still there');
  r = m.xlSync(kind === 'vif' ? `network-attach ${DOMID} mac=00:16:3e:00:00:01` : `block-attach ${DOMID} format=raw,vdev=xvda,access=rw,target=mem:1`);
  if (r.code !== 0 || r.stderr !== '') throw new Error(`attach: ${r.code} ${r.stderr}`);
  if (!runUntil(m, () => state(m, be) === XenbusState.Connected && backendIo(m, kind) > 0, 2 * S)) {
    throw new Error(`reattach: backend state ${state(m, be)}, io ${backendIo(m, kind)}`);
  }
  during?.(m);
  m.sim.run({ until: m.sim.now + 2 * MS });
}
