// Waiting on xenstore nodes against a deadline (tools/libs/light/libxl_event.c:
// libxl__ev_devstate_wait for a backend's state, libxl__xswait for a device
// model's readiness). Each waits with a watch: interest is registered before
// the first read, and every fired watch is followed by a re-read, so a write
// between the read and the wait is not lost. The watch is removed on every
// way out (finally), a timeout included.
import { WaitQueue, waitEvent, type Co } from '../../sim/index.ts';
import type { LibxlCtx } from './libxl_internal.ts';

/**
 * Wait for each `<path>` to read `wanted` (libxl__ev_devstate_wait), all
 * against one deadline. 'removed' when the node disappears after being seen.
 */
export function* waitStates(ctx: LibxlCtx, paths: string[], wanted: number, timeoutNs: number): Co<('ok' | 'timeout' | 'removed')[]> {
  const xs = ctx.xs;
  const wq = new WaitQueue();
  const fired = paths.map(() => true);
  const seen = paths.map(() => false);
  const result: ('ok' | 'timeout' | 'removed' | undefined)[] = paths.map(() => undefined);
  const tokens = paths.map(() => `libxl-devstate-${++ctx.tokens}`);
  for (let i = 0; i < paths.length; i++) {
    yield* xs.watch(paths[i]!, tokens[i]!, () => {
      fired[i] = true;
      wq.wakeAll();
    });
  }
  const deadline = ctx.sim.now + timeoutNs;
  try {
    for (;;) {
      for (let i = 0; i < paths.length; i++) {
        if (result[i] !== undefined || !fired[i]) continue;
        fired[i] = false;
        const v = yield* xs.read(0, paths[i]!);
        if (v === undefined) {
          if (seen[i]) result[i] = 'removed';
        } else {
          seen[i] = true;
          if (Number.parseInt(v, 10) === wanted) result[i] = 'ok';
        }
      }
      if (result.every((r) => r !== undefined)) break;
      const left = deadline - ctx.sim.now;
      const woke = left > 0 && (yield* waitEvent(wq, () => fired.some((f, i) => f && result[i] === undefined), 'S', left));
      if (!woke) {
        for (let i = 0; i < paths.length; i++) result[i] ??= 'timeout';
        break;
      }
    }
  } finally {
    for (let i = 0; i < paths.length; i++) yield* xs.unwatch(paths[i]!, tokens[i]!);
  }
  return result as ('ok' | 'timeout' | 'removed')[];
}

/** Wait for a node to hold a string value (libxl__xswait); resolves with the outcome and the time waited. */
export function* waitStateValue(ctx: LibxlCtx, path: string, wanted: string, timeoutNs: number): Co<['ok' | 'timeout', number]> {
  const wq = new WaitQueue();
  let fired = true;
  const token = `libxl-spawn-${++ctx.tokens}`;
  yield* ctx.xs.watch(path, token, () => {
    fired = true;
    wq.wakeAll();
  });
  const start = ctx.sim.now;
  const deadline = start + timeoutNs;
  try {
    for (;;) {
      if (fired) {
        fired = false;
        if ((yield* ctx.xs.read(0, path)) === wanted) return ['ok', ctx.sim.now - start];
      }
      const left = deadline - ctx.sim.now;
      if (left <= 0 || !(yield* waitEvent(wq, () => fired, 'S', left))) return ['timeout', ctx.sim.now - start];
    }
  } finally {
    yield* ctx.xs.unwatch(path, token);
  }
}
