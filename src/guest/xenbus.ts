// Frontend helpers for the xenbus state machine, on the guest's Xs client.

import { Lwt } from './index.ts';
import type { XsClient } from './xs.ts';

/**
 * Wait until `path` satisfies `ok` (a xenstore watch). An Lwt, not a native
 * Promise: the main loop only knows to drain native continuations that came
 * through an Lwt (`await lwt`), so a bare Promise resolved from a watch
 * callback would leave the vCPU halted with the continuation pending.
 */
export function waitFor(xs: XsClient, path: string, ok: (v: string | undefined) => boolean): Lwt.Lwt<string | undefined> {
  const [p, r] = Lwt.wait<string | undefined>();
  let done = false;
  let sub: { unsubscribe(): void } | undefined;
  const check = (v: string | undefined) => {
    if (done || !ok(v)) return;
    done = true;
    sub?.unsubscribe();
    Lwt.wakeup(r, v);
  };
  sub = xs.watch(path).subscribe({
    next: () => {
      Lwt.catch_(() => xs.read(path), () => undefined as unknown as string).map_((v) => check(v));
    },
    error: (e) => {
      if (!done) {
        done = true;
        Lwt.wakeup_exn(r, e);
      }
    },
  });
  if (done) sub.unsubscribe();
  return p;
}
