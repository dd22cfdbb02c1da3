// Lwt for the unikernel (what kernels and drivers import as `Lwt`): the
// promise core and scheduler queue (lwt_core.ts), the combinators that race
// or join promises and cancel the losers (lwt_race.ts), and the
// synchronisation primitives built on them (lwt_sync.ts). One facade so the
// three files need no import cycle.
export * from './lwt_core.ts';
export { all, cancel, choose, join, no_cancel, on_cancel, pick, protected_ } from './lwt_race.ts';
export { Condition, MVar } from './lwt_sync.ts';
