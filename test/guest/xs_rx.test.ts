// The xenstore client's waits as RxJS streams on virtual time, against the
// real daemon over an in-process ring (xs_world.ts): watches, values,
// request timeouts, EAGAIN retries with back-off, cancellation.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { filter, first, take, timeout, toArray } from 'rxjs';
import * as Lwt from '../../src/guest/lwt.ts';
import { toLwt } from '../../src/guest/rx.ts';
import { XsError } from '../../src/guest/xs.ts';
import { world } from './xs_world.ts';

const X = suite('guest xs client: observables on virtual time');
X.before.each(() => Lwt.reset());

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

X('watch: an Observable of fired paths; unsubscribing sends UNWATCH', async () => {
  const { xs, dom0, settle, home, d, domid } = world();
  const seen: string[] = [];
  const sub = xs.watch('data/w').subscribe((p) => seen.push(p));
  await settle();
  assert.equal(seen, ['data/w'], 'the initial event');
  assert.is(d.usage(domid).watches, 1);
  dom0.write(`${home}/data/w/x`, '1');
  await settle();
  assert.equal(seen, ['data/w', 'data/w/x']);
  sub.unsubscribe();
  await settle();
  assert.is(d.usage(domid).watches, 0, 'UNWATCH reached the daemon');
  const events = xs.stats.events;
  dom0.write(`${home}/data/w/y`, '2');
  await settle();
  assert.is(xs.stats.events, events, 'no event after UNWATCH');
  assert.equal(seen, ['data/w', 'data/w/x']);
});

X('values composed with RxJS operators: the node at each change', async () => {
  const { xs, dom0, drive, settle, home, d, domid } = world();
  const got = toLwt(
    xs.values('data/mode').pipe(
      filter((v): v is string => v !== undefined),
      take(3),
      toArray(),
    ),
  );
  await settle(); // initial event: ENOENT reads as undefined and is filtered out
  for (const v of ['a', 'b', 'c']) {
    dom0.write(`${home}/data/mode`, v);
    await settle();
  }
  assert.equal(await drive(got), ['a', 'b', 'c']);
  await settle();
  assert.is(d.usage(domid).watches, 0, 'take(3) unsubscribed: unwatched');
});

X('values: a newer event cancels the read in flight (switchMap); its reply is dropped', async () => {
  const { xs, dom0, drive, settle, home } = world();
  const seen: Array<string | undefined> = [];
  const sub = xs.values('data/v').subscribe((v) => seen.push(v));
  await settle();
  // Two changes before the guest looks: both events arrive in one reader pass.
  dom0.write(`${home}/data/v`, '1');
  dom0.write(`${home}/data/v`, '2');
  await settle();
  assert.ok(xs.stats.dropped >= 1, `dropped ${xs.stats.dropped}`);
  assert.is(seen[seen.length - 1], '2');
  assert.not.ok(seen.includes('1'), 'the superseded read never emits');
  sub.unsubscribe();
  await drive(xs.write('data/after', 'ok')); // the client still works
});

X('request timeout: ETIMEDOUT at the virtual deadline; the late reply is dropped', async () => {
  const { xs, drive, settle, daemon, clock } = world({ timeoutMs: 50 });
  daemon.deaf = true;
  const e = await rejects(drive(xs.read('name')));
  assert.instance(e, XsError);
  assert.is((e as XsError).errno, 'ETIMEDOUT');
  assert.is((e as XsError).op, 'READ');
  assert.is(clock.ms(), 50);
  daemon.deaf = false;
  await settle();
  assert.is(xs.stats.dropped, 1);
  assert.is(await drive(xs.read('name')), 'guest5');
});

X('a timed-out TRANSACTION_START is ended when its reply comes; a timed-out WATCH is unwatched', async () => {
  const { xs, drive, settle, daemon, d, domid } = world({ timeoutMs: 10 });
  daemon.deaf = true;
  const e1 = await rejects(drive(xs.startTransaction()));
  assert.is((e1 as XsError).errno, 'ETIMEDOUT');
  const e2 = await rejects(drive(toLwt(xs.watch('data/late'))));
  assert.is((e2 as XsError).errno, 'ETIMEDOUT');
  assert.is((e2 as XsError).op, 'WATCH');
  daemon.deaf = false;
  await settle();
  await settle();
  assert.is(d.usage(domid).transactions, 0, 'the late transaction was ended');
  assert.is(d.usage(domid).watches, 0, 'the late watch was unwatched');
});

X('transaction: EAGAIN retried with exponential back-off on virtual time (0, +1, +2 ms)', async () => {
  const { xs, dom0, drive, home, clock } = world();
  dom0.write(`${home}/data/counter`, '0');
  dom0.ok(14, [`${home}/data/counter`, 'n5']);
  const at: number[] = [];
  const out = await drive(
    xs.transaction((t, attempt) => {
      at.push(clock.ms());
      return t.read('data/counter').bind_((v) => {
        if (attempt < 2) dom0.write(`${home}/data/counter`, String(Number(v) + 10));
        return t.write('data/counter', String(Number(v) + 1)).map_(() => Number(v) + 1);
      });
    }),
  );
  assert.is(out, 21);
  assert.equal(at, [0, 1, 3]);
});

X('transaction$: unsubscribing mid-body cancels the request in flight and aborts the transaction', async () => {
  const { xs, drive, settle, home, dom0, d, domid, daemon } = world();
  let started = false;
  const sub = xs
    .transaction$((t) => {
      started = true;
      return t.write('data/tx', 'x').bind_(() => {
        daemon.deaf = true; // the next request stays unanswered
        return t.read('data/tx');
      });
    })
    .subscribe({ error: () => undefined });
  for (let i = 0; i < 50 && !daemon.deaf; i++) await settle();
  assert.ok(started && daemon.deaf);
  sub.unsubscribe();
  daemon.deaf = false;
  await settle();
  await settle();
  assert.is(d.usage(domid).transactions, 0, 'aborted');
  assert.is(dom0.read(`${home}/data/tx`), undefined, 'nothing committed');
  assert.ok(xs.stats.dropped >= 1);
  await drive(xs.write('data/ok', '1'));
});

X('a watch stream with an RxJS timeout on virtual time unwatches when it fires', async () => {
  const { xs, drive, settle, clock, d, domid, io } = world();
  const never = toLwt(
    xs.values('data/never').pipe(
      first((v) => v === 'x'),
      timeout({ first: 100, scheduler: io.scheduler! }),
    ),
  );
  const e = await rejects(drive(never));
  assert.is((e as Error).name, 'TimeoutError');
  assert.is(clock.ms(), 100);
  await settle();
  assert.is(d.usage(domid).watches, 0);
});

X('cancelling the Lwt of a stream unsubscribes (Lwt.cancel on toLwt)', async () => {
  const { xs, settle, d, domid } = world();
  const p = toLwt(xs.values('data/c').pipe(filter((v) => v === 'never')));
  await settle();
  Lwt.cancel(p);
  await settle();
  assert.ok(Lwt.is_canceled(p));
  assert.is(d.usage(domid).watches, 0);
});

X.run();
