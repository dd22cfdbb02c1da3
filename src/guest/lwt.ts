// Lwt for the unikernel (what kernels and drivers import as `Lwt`), after
// ocsigen/lwt (src/core/lwt.ml, lwt.mli; the names are lwt.mli's): the
// promise and bind (lwt_core.ts), the run queue the main loop drains
// (lwt_queue.ts), resolvers, wakeups and pause (lwt_wakeup.ts), catch_,
// finalize and friends (lwt_callbacks.ts), the combinators that race or join
// promises and cancel the losers (lwt_race.ts), and the synchronisation
// primitives built on them (lwt_sync.ts). One facade so the files need no
// import cycle.
//
// Where this differs from Lwt, and why:
//
// * Resolution runs callbacks at once, deeper on the stack, as Lwt's
//   `resolve` does (`wakeup`, `wakeup_exn`, `cancel`, and every promise a
//   callback resolves in turn), up to MAX_DEPTH nested resolutions; deeper
//   ones go on the run queue. Lwt's `wakeup` never defers (lwt.mli: "calling
//   it in a loop can exhaust the stack"); the bound keeps our stack use
//   constant, with Lwt's own default_maximum_callback_nesting_depth (42).
// * `wakeup_later` resolves the promise now (its state changes at once, as in
//   Lwt) but always queues the callbacks, where Lwt runs them at once unless
//   it is already inside a callback. lwt.mli allows both ("may call callbacks
//   immediately, or may queue them ... still before the next time Lwt blocks
//   the process"): the main loop drains the queue (`run_queue`) before it
//   blocks (main.ts). Always queueing gives the interrupt-driven wakeups
//   (Activations.run) one order, FIFO, whatever the caller's depth.
// * `bind`/`map`/`catch_` on an already resolved promise queue the callback
//   where Lwt calls it at once: a loop of binds on resolved promises then runs
//   in constant stack (a million nested binds, test/guest/lwt.test.ts).
// * `choose`/`pick` over several resolved promises take the first rejected,
//   else the first fulfilled, in list order; Lwt picks one at random (with a
//   PRNG seeded by a constant). Deterministic from the seed either way.
// * A native Promise (`of_promise`, an async function) cannot be canceled:
//   cancellation stops there, as at a `wait` promise.
// * Names: `catch_` and `protected_` (reserved words in JavaScript), `return_`.
//
// As in Lwt: `task` promises are cancelable and `wait` ones are not; `cancel`
// searches backwards through bind/catch_ outputs and the lists of join,
// choose and pick, rejects the cancelable promises it finds with CANCELED and
// lets the rejection run forwards (lwt_race.ts); `on_cancel` callbacks run
// before the other callbacks; a wakeup on a canceled promise does nothing;
// `pick` cancels the losers, `choose` does not; `pause`/`wakeup_paused` wake
// at the next main-loop pass. test/guest/lwt*.test.ts check each rule against
// the lwt.mli text.

export * from './lwt_core.ts';
export * from './lwt_queue.ts';
export * from './lwt_wakeup.ts';
export * from './lwt_callbacks.ts';
export { all, cancel, choose, join, no_cancel, on_cancel, pick, protected_ } from './lwt_race.ts';
export { Condition, MVar } from './lwt_sync.ts';
