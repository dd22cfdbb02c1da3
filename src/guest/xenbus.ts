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
  await xs.write(`${fe}/state`, String(XenbusState.Closing));
  await waitFor(xs, `${backend}/state`, (v) => Number(v) >= XenbusState.Closing || v === undefined);
  await xs.write(`${fe}/state`, String(XenbusState.Closed));
  await waitFor(xs, `${backend}/state`, (v) => Number(v) === XenbusState.Closed || v === undefined);
}

/**
 * After a close: go back to Initialising for the next connect (a hand-over),
 * unless the toolstack is removing the device (backend `online` = 0, or its
 * directory already gone: ENOENT or EACCES). Writing Initialising then would
 * recreate a node libxl is about to remove.
 */
export async function reinitialiseUnlessRemoved(xs: XsClient, fe: string, backend: string): Promise<void> {
  const online = await Lwt.catch_(() => xs.read(`${backend}/online`), () => undefined);
  if (online !== undefined && online !== '0') await xs.write(`${fe}/state`, String(XenbusState.Initialising));
}
