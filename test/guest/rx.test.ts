// The RxJS scheduler on the guest's virtual clock, driven by a fake vcpu time.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { debounceTime, defer, delay, EMPTY, interval, Subject, take, timer, timeout, throwError } from 'rxjs';
import type { GuestDoors } from '../../src/abi/doors.ts';
import * as Lwt from '../../src/guest/lwt.ts';
import { GuestScheduler, backoffMs, fromLwt, retryBackoff, toLwt } from '../../src/guest/rx.ts';
import { Time } from '../../src/guest/time.ts';

function clock() {
  let now = 0;
  const si = new ArrayBuffer(4096);
  const doors = { frame: () => si, rdtsc: () => now } as unknown as GuestDoors;
  const time = new Time(doors, 5);
  const s = new GuestScheduler(time);
  const advance = (to: number) => {
    for (;;) {
      const d = time.next_deadline();
      if (d === undefined || d > to) break;
      now = d;
      time.restart_threads(now);
    }
    now = to;
  };
  return { time, s, advance, ms: () => now / 1e6 };
}

const R = suite('rx scheduler');

R('interval + take fire at virtual times', () => {
  const { s, advance, ms } = clock();
  const seen: Array<[number, number]> = [];
  interval(10, s).pipe(take(3)).subscribe((v) => seen.push([v, ms()]));
  advance(1e9);
  assert.equal(seen, [[0, 10], [1, 20], [2, 30]]);
});

R('timer, delay, debounceTime, timeout', () => {
  const { s, advance, ms } = clock();
  const out: string[] = [];
  timer(5, s).pipe(delay(7, s)).subscribe(() => out.push(`timer+delay@${ms()}`));
  const subj = new Subject<number>();
  subj.pipe(debounceTime(3, s)).subscribe((v) => out.push(`debounce ${v}@${ms()}`));
  subj.next(1);
  advance(1e6);
  subj.next(2);
  advance(100e6);
  new Subject<number>().pipe(timeout({ first: 4, scheduler: s })).subscribe({ error: (e) => out.push(`${e.name}@${ms()}`) });
  advance(200e6);
  assert.equal(out, ['debounce 2@4', 'timer+delay@12', 'TimeoutError@104']);
});

R('equal deadlines fire in schedule order; errors are isolated', () => {
  const { s, advance } = clock();
  const order: number[] = [];
  const errs: unknown[] = [];
  s.onError = (e) => errs.push(e);
  s.schedule(() => order.push(1), 5);
  s.schedule(() => {
    throw new Error('bad');
  }, 5);
  s.schedule(() => order.push(3), 5);
  advance(10e6);
  assert.equal(order, [1, 3]);
  assert.is(errs.length, 1);
});

R('re-scheduling an action from inside work', () => {
  const { s, advance, ms } = clock();
  const at: number[] = [];
  s.schedule(function (this: any, n?: number) {
    at.push(ms());
    if (n! < 3) this.schedule(n! + 1, 2);
  }, 1, 0);
  advance(1e9);
  assert.equal(at, [1, 3, 5, 7]);
});

R('fromLwt: one value then complete; unsubscribing first cancels the task', () => {
  Lwt.reset();
  const [t, r] = Lwt.task<number>();
  const seen: string[] = [];
  fromLwt(() => t).subscribe({ next: (v) => seen.push(`v${v}`), complete: () => seen.push('done') });
  Lwt.wakeup(r, 1);
  assert.equal(seen, ['v1', 'done']);
  const [t2] = Lwt.task<number>();
  fromLwt(() => t2).subscribe().unsubscribe();
  assert.ok(Lwt.is_canceled(t2));
});

R('toLwt: the first value; EmptyError when empty; cancelling unsubscribes', () => {
  Lwt.reset();
  const subj = new Subject<number>();
  const p = toLwt(subj);
  subj.next(5);
  subj.next(6);
  Lwt.run_queue();
  assert.is(p.value(), 5);
  assert.not.ok(subj.observed, 'unsubscribed after the first value');
  const e = toLwt(EMPTY);
  Lwt.run_queue();
  assert.throws(() => e.value(), (err: Error) => err.name === 'EmptyError');
  const held = new Subject<number>();
  const h = toLwt(held);
  Lwt.cancel(h);
  assert.not.ok(held.observed);
  assert.ok(Lwt.is_canceled(h));
});

R('retryBackoff: 1, 2, 4 ms on the virtual clock; other errors pass at once', () => {
  const { s, advance, ms } = clock();
  assert.equal([1, 2, 3, 4, 6, 7, 30].map((n) => backoffMs(n)), [1, 2, 4, 8, 32, 32, 32]);
  const at: number[] = [];
  let err: unknown;
  defer(() => {
    at.push(ms());
    return throwError(() => new Error('again'));
  })
    .pipe(retryBackoff({ count: 3, when: (e) => (e as Error).message === 'again', scheduler: s }))
    .subscribe({ error: (e) => (err = e) });
  advance(1e9);
  assert.equal(at, [0, 1, 3, 7]);
  assert.is((err as Error).message, 'again');
  const at2: number[] = [];
  defer(() => {
    at2.push(ms());
    return throwError(() => new Error('fatal'));
  })
    .pipe(retryBackoff({ count: 3, when: (e) => (e as Error).message === 'again', scheduler: s }))
    .subscribe({ error: () => undefined });
  assert.equal(at2, [ms()]);
});

R.run();
