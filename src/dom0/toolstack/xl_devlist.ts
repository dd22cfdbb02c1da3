// `xl network-list DOM...` and `xl block-list DOM...` (tools/xl/xl_nic.c
// main_networklist, xl_block.c main_blocklist; libxl_nic.c and libxl_disk.c
// *_getinfo; Xen 4.17). The header is printed once, then one row per device
// of each domain in devid order. state, evt-ch and the ring refs are the
// frontend's keys (-1 when absent, as libxl's getinfo reads them); the MAC
// and the backend path come from libxl's own copy under /libxl/DOMID.
import type { Co } from '../../sim/index.ts';
import type { Libxl } from './libxl.ts';

export interface DevListResult {
  code: number;
  out: string[];
  err: string[];
}

/** printf's %-Ns / %Ns. */
const left = (v: string | number, w: number) => String(v).padEnd(w);
const right = (v: string | number, w: number) => String(v).padStart(w);

function* readInt(lx: Libxl, path: string): Co<number> {
  const v = yield* lx.xs.read(0, path);
  return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : -1;
}

/** `%02hhx:` six times from libxl's stored "aa:bb:..." (zeros when unparsable, as a zeroed libxl_mac). */
function formatMac(s: string | undefined): string {
  const parts = (s ?? '').split(':');
  const bytes = parts.length === 6 && parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p)) ? parts.map((p) => parseInt(p, 16)) : [0, 0, 0, 0, 0, 0];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function* devids(lx: Libxl, domid: number, kind: 'vif' | 'vbd'): Co<number[]> {
  const ids = (yield* lx.xs.directory(0, `/libxl/${domid}/device/${kind}`)) ?? [];
  return ids.filter((i) => /^\d+$/.test(i)).map(Number).sort((a, b) => a - b);
}

/** find_domain: a name must exist; an all-digit argument is taken as is. */
function* findDomain(lx: Libxl, p: string): Co<number | undefined> {
  return /^\d+$/.test(p) ? Number(p) : yield* lx.nameToDomid(p);
}

export function* xlDevList(lx: Libxl, cmd: 'network-list' | 'block-list', args: string[]): Co<DevListResult> {
  const r: DevListResult = { code: 0, out: [], err: [] };
  if (args.length === 0) return { code: 2, out: [], err: [`'xl ${cmd}' requires at least one argument.`] };
  r.out.push(cmd === 'network-list'
    ? `${left('Idx', 3)} ${left('BE', 2)} ${left('Mac Addr.', 17)} ${left('handle', 6)} ${left('state', 5)} ${left('evt-ch', 6)} ${right('tx-', 5)}/${left('rx-ring-ref', 5)} ${left('BE-path', 30)}`
    : `${left('Vdev', 5)} ${left('BE', 3)} ${left('handle', 6)} ${left('state', 5)} ${left('evt-ch', 6)} ${left('ring-ref', 8)} ${left('BE-path', 30)}`);
  for (const p of args) {
    const domid = yield* findDomain(lx, p);
    if (domid === undefined) {
      // find_domain exits: what was printed so far stays.
      r.err.push(`${p} is an invalid domain identifier (rc=-6)`);
      r.code = 1;
      return r;
    }
    const kind = cmd === 'network-list' ? 'vif' : 'vbd';
    for (const devid of yield* devids(lx, domid, kind)) {
      const lxPath = `/libxl/${domid}/device/${kind}/${devid}`;
      const bePath = (yield* lx.xs.read(0, `${lxPath}/backend`)) ?? '';
      const beDom = /^\/local\/domain\/(\d+)\//.exec(bePath)?.[1] ?? '-1';
      const fe = `/local/domain/${domid}/device/${kind}/${devid}`;
      const state = yield* readInt(lx, `${fe}/state`);
      const evtch = yield* readInt(lx, `${fe}/event-channel`);
      if (kind === 'vif') {
        const mac = formatMac(yield* lx.xs.read(0, `${lxPath}/mac`));
        const tx = yield* readInt(lx, `${fe}/tx-ring-ref`);
        const rx = yield* readInt(lx, `${fe}/rx-ring-ref`);
        r.out.push(`${left(devid, 3)} ${left(beDom, 2)} ${mac}${right(devid, 6)} ${right(state, 5)} ${right(evtch, 6)} ${right(tx, 5)}/${left(rx, 11)} ${left(bePath, 30)}`);
      } else {
        const ring = yield* readInt(lx, `${fe}/ring-ref`);
        // xl_block.c prints the frontend domid in the "handle" column.
        r.out.push(`${left(devid, 5)} ${left(beDom, 3)} ${left(domid, 6)} ${left(state, 5)} ${left(evtch, 6)} ${left(ring, 8)} ${left(bePath, 30)}`);
      }
    }
  }
  return r;
}
