// Watches as RxJS Observables (xs_wire.h XS_WATCH/XS_UNWATCH, libxenstore's
// xs_watch/xs_unwatch): a subscription registers a token with the connection,
// sends WATCH, and emits each fired path; unsubscribing sends UNWATCH. A WATCH
// whose caller gave up before its reply is unwatched when the reply comes.

import { Observable, switchMap } from 'rxjs';
import { XS_UNWATCH, XS_WATCH, XsError } from '../abi/xs_wire.ts';
import * as Lwt from './lwt.ts';
import { fromLwt } from './rx.ts';
import type { XsConnection } from './xs_connection.ts';

/** XsClient.watch: WATCH `path` under a fresh token; the Observable of fired paths, UNWATCH on unsubscribe. */
export function xsWatch(c: XsConnection, path: string): Observable<string> {
  return new Observable<string>((subscriber) => {
    let live = true;
    const token = c.addWatch({
      path,
      next: (p) => subscriber.next(p),
      error: (e) => subscriber.error(e),
    });
    // A WATCH that timed out may still be set up by the daemon: unwatch it when its reply comes.
    const unwatch = () => void Lwt.catch_(() => c.request(XS_UNWATCH, 0, path, [path, token]).map_(() => undefined), () => undefined);
    Lwt.catch_(
      () => c.request(XS_WATCH, 0, path, [path, token], undefined, unwatch).map_(() => undefined),
      (e) => {
        if (!live) return;
        live = false;
        c.removeWatch(token);
        subscriber.error(e);
      },
    );
    return () => {
      if (!live) return;
      live = false;
      c.removeWatch(token);
      if (!c.failed) unwatch();
    };
  });
}

/** XsClient.values: a read at each event of xsWatch, the read in flight canceled by the next event (switchMap). */
export function xsValues(c: XsConnection, path: string): Observable<string | undefined> {
  return xsWatch(c, path).pipe(
    switchMap(() => fromLwt(() => Lwt.catch_(() => c.read(path), (e) => (e instanceof XsError ? undefined : Lwt.fail<string | undefined>(e))))),
  );
}
