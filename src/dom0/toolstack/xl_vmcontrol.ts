// `xl pause DOM` / `xl unpause DOM` (tools/xl/xl_vmcontrol.c: main_pause,
// main_unpause; Xen 4.17). Both are silent and return 0 even when libxl
// fails: the error is only libxl's log line, e.g.
//   libxl: error: libxl_domain.c:587:libxl_domain_pause: Domain 99:Pausing domain: No such process
// A name that matches no domain is xl's own error (find_domain: "%s is an
// invalid domain identifier (rc=-6)", exit 1); an all-digit argument is never
// checked for existence (xl_utils.c: find_domain).
// Xen counts pauses (pause_count); xenode's domain has one paused flag, so a
// second pause is undone by one unpause (a documented simplification).
import type { Co } from '../../sim/index.ts';
import type { Libxl } from './libxl.ts';
import { libxlLine } from './log.ts';

export interface VmControlResult {
  code: number;
  err: string[];
}

export function* xlPauseUnpause(lx: Libxl, cmd: 'pause' | 'unpause', args: string[]): Co<VmControlResult> {
  const p = args[0];
  // SWITCH_FOREACH_OPT with one required argument; xl reads argv[optind] and ignores the rest.
  if (p === undefined) return { code: 2, err: [`'xl ${cmd}' requires at least one argument.`] };
  const domid = /^\d+$/.test(p) ? Number(p) : yield* lx.nameToDomid(p);
  if (domid === undefined) return { code: 1, err: [`${p} is an invalid domain identifier (rc=-6)`] };
  const exists = lx.xc.xc_domain_getinfo(domid) !== undefined;
  if (!exists) {
    const line = cmd === 'pause'
      ? libxlLine('error', 'libxl_domain_pause', domid, 'Pausing domain: No such process')
      : libxlLine('error', 'libxl_domain_unpause', domid, 'Unpausing domain: No such process');
    return { code: 0, err: [line] };
  }
  if (cmd === 'pause') lx.xc.xc_domain_pause(domid);
  else lx.xc.xc_domain_unpause(domid);
  return { code: 0, err: [] };
}
