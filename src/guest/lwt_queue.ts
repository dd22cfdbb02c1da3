// Lwt's run queue: callbacks deferred by wakeup_later, by a resolution nested
// deeper than MAX_DEPTH, or by a listen on an already resolved promise
// (lwt_core.ts). The main loop drains it (run_queue) before it blocks
// (main.ts), so what is queued runs "before the next time Lwt blocks the
// process" (lwt.mli: wakeup_later), in FIFO order.

/**
 * FIFO run queue of triples (function, a, b), called as function(a, b): a
 * callback and its promise, a bare job, or an on_cancel callback.
 * Slots between qhead and qtail are live; the array never shrinks (no
 * reallocation per main-loop pass) and read slots are cleared.
 */
const queue: any[] = [];
let qhead = 0;
let qtail = 0;

/** @internal */
export function push3(f: (a: any, b: any) => void, a: any, b: any): void {
  const t = qtail;
  queue[t] = f;
  queue[t + 1] = a;
  queue[t + 2] = b;
  qtail = t + 3;
}

/** Run queued callbacks until the queue is empty. Returns the number run. */
export function run_queue(): number {
  let n = 0;
  while (qhead < qtail) {
    const h = qhead;
    const job = queue[h];
    const a = queue[h + 1];
    const b = queue[h + 2];
    queue[h] = undefined;
    queue[h + 1] = undefined;
    queue[h + 2] = undefined;
    qhead = h + 3;
    n++;
    job(a, b);
    if (qhead > 8192 && qhead * 2 > qtail) {
      // Long runs (a million nested binds): move the live part down.
      queue.copyWithin(0, qhead, qtail);
      queue.fill(undefined, qtail - qhead, qtail);
      qtail -= qhead;
      qhead = 0;
    }
  }
  qhead = 0;
  qtail = 0;
  return n;
}

export function queue_length(): number {
  return (qtail - qhead) / 3;
}

/** @internal Empty the queue (reset(), tests only). */
export function reset_queue(): void {
  queue.length = 0;
  qhead = 0;
  qtail = 0;
}
