// `xl create -c` (tools/xl/xl_vmcontrol.c: create_domain with
// console_autoconnect): xl forks xenconsole on the new domain before it is
// unpaused, so the console shows the guest's output from its first byte, and
// the invoking xl returns when xenconsole does: when the domain is gone, or
// the user pressed Ctrl-]. xenode's xl returns text, not a live terminal, so
// it follows the console in virtual time and then prints all of it:
//   - until the domain has shut down or is gone (a preserved, shut-down
//     domain ends it too: its console can say nothing more);
//   - at most CONSOLE_FOLLOW_NS of virtual time, after which it detaches as
//     Ctrl-] would and says so on stderr (the domain runs on). Without that
//     bound a guest that never stops (a server) would never give the
//     prompt back.
// The text comes from xenconsoled, which keeps a released domain's output,
// so a guest destroyed by on_poweroff="destroy" still shows everything.
import { sleep, type Co } from '../../sim/index.ts';
import type { Libxl } from './libxl.ts';

/** How long `xl create -c` follows a console that does not end. */
export const CONSOLE_FOLLOW_NS = 60e9;
/** How often the follower looks at the domain (xenconsole's poll loop wakes on events; 10 ms of virtual time is finer than any guest's output). */
const POLL_NS = 10e6;

export interface FollowResult {
  out: string;
  err: string[];
}

/** Follow `domid`'s console until it ends (see the header); `text` reads what the console has so far. */
export function* followConsole(lx: Libxl, domid: number, text: (domid: number) => string | undefined): Co<FollowResult> {
  const deadline = lx.sim.now + CONSOLE_FOLLOW_NS;
  for (;;) {
    const info = lx.xc.xc_domain_getinfo(domid);
    if (!info || info.shutdown || info.dying) return { out: text(domid) ?? '', err: [] };
    if (lx.sim.now >= deadline) {
      return { out: text(domid) ?? '', err: [`xenode: detached from the console of domain ${domid} after ${CONSOLE_FOLLOW_NS / 1e9} s of virtual time; the domain runs on`] };
    }
    yield* sleep(Math.min(POLL_NS, deadline - lx.sim.now));
  }
}
