// mtwatch lifecycle: when to create and destroy `[xen-mtwatch-<domid>]`
// (docs/architecture.md §5.5). The executors themselves are in xenwatch.ts.
//
// 'domains' (the 2018 design discussion's kernel-only option): watch
// @introduceDomain and @releaseDomain; on either, XS_DIRECTORY /local/domain
// and diff against the executors. The specials carry no domid (the 4.17
// daemons reject `@releaseDomain/<domid>` watches), hence the diff.
//
// 'node' (the April 2018 RFC): watch /local/domain/0/mtwatch; libxl mkdirs
// /local/domain/0/mtwatch/<domid> in libxl__domain_make's transaction and
// removes it as the last xenstore operation of destroy. Needs the toolstack
// and breaks if the toolstack dies between the two: kept as an option.
//
// Both callbacks run on the default xenwatch thread (get_domid → 0).

import { call, type Co } from '../../sim/index.ts';
import type { Xenbus } from './xenbus.ts';
import { makeWatch } from './xenbus.ts';
import type { MtwatchLifecycle, XenbusWatch, Xenwatch } from './xenwatch.ts';

export const MTWATCH_NODE = '/local/domain/0/mtwatch';

export class MtwatchLifecycleWatch {
  readonly watches: XenbusWatch[] = [];
  /** Diffs run (tests). */
  syncs = 0;

  constructor(
    readonly xb: Xenbus,
    readonly xw: Xenwatch,
    readonly lifecycle: MtwatchLifecycle,
  ) {}

  *init(): Co {
    const cb = () => call('mtwatch_domain_changed', this.sync());
    if (this.lifecycle === 'domains') {
      this.watches.push(makeWatch('@introduceDomain', cb, { owner: 0 }), makeWatch('@releaseDomain', cb, { owner: 0 }));
    } else {
      this.watches.push(makeWatch(MTWATCH_NODE, cb, { owner: 0 }));
    }
    for (const w of this.watches) yield* this.xb.register_xenbus_watch(w);
  }

  private *sync(): Co {
    const dir = this.lifecycle === 'domains' ? '/local/domain' : MTWATCH_NODE;
    const names = yield* this.xb.xs_directory_opt(dir);
    const ids = new Set<number>();
    for (const n of names) if (/^\d+$/.test(n) && Number(n) !== 0) ids.add(Number(n));
    this.syncs++;
    yield* this.xw.sync(ids);
  }
}
