// Frontend helpers for the xenbus state machine, on the guest's Xs client.

import { first } from 'rxjs';
import { XenbusState } from '../abi/xen.ts';
import { Lwt } from './runtime.ts';
import { toLwt } from './rx.ts';
import type { XsClient } from './xs.ts';

/**
 * Wait until `path` satisfies `ok`: the first of xs.values(path) that does
 * (a watch, a read at each event; unsubscribing on the first match sends
 * UNWATCH). An error reply reads as undefined. A Lwt task, not a native
 * Promise: the main loop only knows to drain native continuations that came
 * through an Lwt (`await lwt`), and cancelling it drops the watch.
 */
export function waitFor(xs: XsClient, path: string, ok: (v: string | undefined) => boolean): Lwt.Lwt<string | undefined> {
  return toLwt(xs.values(path).pipe(first(ok)));
}

/**
 * The frontend half of a close (Linux xenbus_frontend_closed, Mini-OS
 * shutdown_netfront): Closing, wait for the backend to follow, Closed, wait
 * for the backend's Closed. After that the backend has unmapped everything,
 * so the frontend may end its grants. A vanished backend (undefined) counts
 * as closed: the toolstack is tearing the device down.
 */
export async function closeWithBackend(xs: XsClient, fe: string, backend: string): Promise<void> {
  await switchState(xs, fe, XenbusState.Closing);
  await waitFor(xs, `${backend}/state`, (v) => Number(v) >= XenbusState.Closing || v === undefined);
  await switchState(xs, fe, XenbusState.Closed);
  // "Left Closing", not "is Closed": each read sees the state when the daemon
  // answers it, and a newer event cancels the read in flight, so the
  // backend's Closed, its removal by libxl and a new device's Initialising
  // (xl network-detach; network-attach) can all land before one read is
  // answered; the last read then sees only the new device.
  await waitFor(xs, `${backend}/state`, (v) => v === undefined || Number(v) !== XenbusState.Closing);
}

/**
 * After a close the toolstack asked for (`xl network-detach`): resolves once
 * the Closed frontend at `fe` is released, i.e. its `state` is no longer
 * Closed: libxl removed the directory (unreadable), a new device already took
 * the id (libxl writes Initialising), or the frontend re-initialised itself
 * because the device stays. Not "until gone": a detach and an attach issued
 * back to back can commit the removal and the re-creation before this read is
 * answered, and the read then sees only the new device:
 *   1. the frontend writes Closed; the backend goes Closed;
 *   2. libxl removes device/vif/0 (xl network-detach returns);
 *   3. xl network-attach writes device/vif/0 again, state Initialising;
 *   4. the frontend's watch fires for 2 and 3; its read sees 3's node.
 * A wait for "gone" waits forever after 4. Never rejects (an error reads as gone).
 */
export function frontendReleased(xs: XsClient, fe: string): Lwt.Lwt<string | undefined> {
  return waitFor(xs, `${fe}/state`, (v) => v === undefined || Number(v) !== XenbusState.Closed);
}

/**
 * After a close: go back to Initialising for the next connect (a hand-over),
 * unless the toolstack is removing the device (backend `online` = 0, or its
 * directory already gone: ENOENT or EACCES). Writing Initialising then would
 * recreate a node libxl is about to remove.
 */
export async function reinitialiseUnlessRemoved(xs: XsClient, fe: string, backend: string): Promise<void> {
  const online = await Lwt.catch_(() => xs.read(`${backend}/online`), () => undefined);
  if (online !== undefined && online !== '0') await switchState(xs, fe, XenbusState.Initialising);
}

/**
 * xenbus_switch_state: in a transaction, write `<fe>/state` only if it is
 * still there. After a forced removal (libxl rm'd the frontend directory
 * first) a plain write would create the node again, and with it the
 * directory: a node nobody removes.
 */
export async function switchState(xs: XsClient, fe: string, state: number): Promise<void> {
  await xs.transaction(async (t) => {
    if ((await t.tryRead(`${fe}/state`)) === undefined) return;
    await t.write(`${fe}/state`, String(state));
  });
}

/**
 * Wait until the backend's state is `want`: true then; false when the
 * toolstack removes the device first (the backend directory gone, or Closing
 * or Closed with `online` = 0, libxl's removal), so a connect in progress
 * gives up instead of waiting forever for a state that will not come (Linux
 * netfront/blkfront see the backend's Closing in any state and close). A
 * backend passing through Closing/Closed with `online` = 1 is a hand-over on
 * its way back to InitWait: keep waiting.
 */
export async function waitBackendState(xs: XsClient, backend: string, want: number): Promise<boolean> {
  const path = `${backend}/state`;
  for (;;) {
    const v = await waitFor(xs, path, (s) => s === undefined || Number(s) === want || Number(s) >= XenbusState.Closing);
    if (v === undefined) return false;
    if (Number(v) === want) return true;
    const online = await Lwt.catch_(() => xs.read(`${backend}/online`), () => undefined);
    if (online === undefined || online === '0') return false;
    await waitFor(xs, path, (s) => s !== v);
  }
}
