// Debug key 'g' (xen/common/grant_table.c: gnttab_usage_print_all and
// gnttab_usage_print, Xen 4.17): every domain's grant table, one row per
// active (pinned) entry. xenode has no machine frames apart from a domain's
// own pages (an identity p2m), so the "mfn" column is the granted gfn.
import type { Domain } from './domain.ts';
import { MAX_GRANT_FRAMES } from './gnttab.ts';

/** Maptrack entries per 4 KiB frame (struct grant_mapping is 16 bytes). */
const MAPTRACK_PER_FRAME = 4096 / 16;
/** Xen's default max_maptrack_frames (grant_table.c: opt_max_maptrack_frames). */
const MAX_MAPTRACK_FRAMES = 1024;

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');

/** The lines of one domain's table (gnttab_usage_print), without the "(XEN) " prefix. */
export function gnttabUsageLines(d: Domain): string[] {
  const gt = d.gnttab;
  const out = [
    '      -------- active --------       -------- shared --------',
    '[ref] localdom mfn      pin          localdom gmfn     flags',
    // Xen's grant tables are v1 unless a guest switches to v2; xenode implements v1 only.
    `grant-table for remote d${d.id} (v1)`,
    `  ${gt.nrFrames} frames (${MAX_GRANT_FRAMES} max), ${Math.ceil(gt.maptrackSlots / MAPTRACK_PER_FRAME)} maptrack frames (${MAX_MAPTRACK_FRAMES} max)`,
  ];
  const active = gt.activeEntries();
  for (const e of active) {
    out.push(`[0x${hex(e.ref, 3)}]  ${String(e.domid).padStart(5)} 0x${hex(e.frame, 5)} 0x${hex(e.pin, 8)}      ${String(e.domid).padStart(5)} 0x${hex(e.frame, 6)} 0x${hex(e.flags, 2)}`);
  }
  if (active.length === 0) out.push('no active grant table entries');
  return out;
}

/** The full 'g' output, every line prefixed "(XEN) ". */
export function dumpGnttab(domains: readonly Domain[]): string {
  const lines = ["gnttab_usage_print_all [ key 'g' pressed"];
  for (const d of [...domains].sort((a, b) => a.id - b.id)) lines.push(...gnttabUsageLines(d));
  lines.push('gnttab_usage_print_all ] done');
  return lines.map((l) => `(XEN) ${l}\n`).join('');
}
