// `xl shutdown|reboot DOM` and `xl pause DOM` / `xl unpause DOM` (tools/xl/xl_vmcontrol.c: main_pause,
// main_unpause; Xen 4.17). Both are silent and return 0 even when libxl
// fails: the error is only libxl's log line, e.g.
//   libxl: error: libxl_domain.c:587:libxl_domain_pause: Domain 99:Pausing domain: No such process
// A name that matches no domain is xl's own error (find_domain: "%s is an
// invalid domain identifier (rc=-6)", exit 1); an all-digit argument is never
// checked for existence (xl_utils.c: find_domain).
// Xen counts pauses (pause_count); xenode's domain has one paused flag, so a
// second pause is undone by one unpause (a documented simplification).
import { WaitQueue, waitEvent, type Co } from '../../sim/index.ts';
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

/** ERROR_GUEST_TIMEDOUT (libxl_types.idl). */
const ERROR_GUEST_TIMEDOUT = -9;
/** libxl__domain_pvcontrol's wait for the guest's acknowledgement. */
export const PVCONTROL_TIMEOUT_NS = 60e9;

/**
 * libxl__domain_pvcontrol (libxl_domain.c, Xen 4.17): write the request to
 * control/shutdown, then wait (xswait, 60 s) until the guest has taken it,
 * i.e. emptied or removed the node. A PVH domain always has the PV control
 * interface (libxl__domain_pvcontrol_available is only a question for HVM).
 */
function* pvcontrol(lx: Libxl, domid: number, request: 'poweroff' | 'reboot'): Co<number> {
  const path = `/local/domain/${domid}/control/shutdown`;
  yield* lx.xs.write(0, path, request);
  const wq = new WaitQueue();
  let fired = true;
  const token = `libxl-pvcontrol-${++lx.tokens}`;
  // Watch before the first read, re-read on every fire: an early ack is not lost.
  yield* lx.xs.watch(path, token, () => {
    fired = true;
    wq.wakeAll();
  });
  const deadline = lx.sim.now + PVCONTROL_TIMEOUT_NS;
  try {
    for (;;) {
      if (fired) {
        fired = false;
        const v = yield* lx.xs.read(0, path);
        if (v === undefined || v === '') return 0;
      }
      const left = deadline - lx.sim.now;
      if (left <= 0 || !(yield* waitEvent(wq, () => fired, 'S', left))) return ERROR_GUEST_TIMEDOUT;
    }
  } finally {
    yield* lx.xs.unwatch(path, token);
  }
}

/**
 * main_shutdown / main_reboot (xl_vmcontrol.c): `Shutting down domain N` /
 * `Rebooting domain N` on stderr, the PV control request, and on a guest that
 * does not acknowledge it libxl's error and `shutdown failed (rc=-9)`, exit 1.
 * -a (every domain but dom0) is accepted; -w/-F are not emulated.
 */
export function* xlShutdownReboot(lx: Libxl, cmd: 'shutdown' | 'reboot', args: string[]): Co<VmControlResult> {
  const err: string[] = [];
  let all = false;
  const doms: string[] = [];
  for (const a of args) {
    if (a === '-a') all = true;
    else if (a.startsWith('-')) return { code: 2, err: [`xl ${cmd}: option ${a} is not emulated (only -a)`] };
    else doms.push(a);
  }
  if (!all && doms.length === 0) return { code: 1, err: ['You must specify -a or a domain id.', ''] };
  let ids: number[];
  if (all) ids = lx.xc.xc_domain_getinfolist().map((d) => d.domid).filter((d) => d !== 0).sort((a, b) => a - b);
  else {
    const p = doms[0]!;
    const id = /^\d+$/.test(p) ? Number(p) : yield* lx.nameToDomid(p);
    if (id === undefined) return { code: 1, err: [`${p} is an invalid domain identifier (rc=-6)`] };
    ids = [id];
  }
  for (const domid of ids) {
    err.push(cmd === 'shutdown' ? `Shutting down domain ${domid}` : `Rebooting domain ${domid}`);
    const rc = yield* pvcontrol(lx, domid, cmd === 'shutdown' ? 'poweroff' : 'reboot');
    if (rc !== 0) {
      err.push(libxlLine('error', 'pvcontrol_cb', undefined, `guest didn't acknowledge control request: ${rc}`));
      err.push(`${cmd} failed (rc=${rc})`);
      return { code: 1, err };
    }
  }
  return { code: 0, err };
}
