// xenode/guest: what a unikernel imports (package.json "exports"). Names are
// mirage-xen's (Main, Time, Eventchn, Activations, Lwt, Console) and Mini-OS's
// for the drivers (Netfront, Blkfront, Gnttab). docs/kernels.md walks through
// writing a kernel with them.
//
//   import { kernel, Console, Time } from 'xenode/guest';
//   kernel(async () => {
//     Console.log('hello');
//     await Time.sleep_ns(1e9);   // one second of virtual time
//     return 0;                   // poweroff
//   });
//
// Everything here runs inside the domain's own realm, single-threaded: a
// "thread" is an Lwt (or a Promise) waiting on an event, a timer or xenstore,
// and the vCPU blocks (SCHEDOP_block) whenever none is runnable. Nothing here
// reaches the host except through the hypercall interface (src/abi/doors.ts).
//
// What each export waits for, what becomes of an event nobody waits for, and
// what it throws is written on its declaration (runtime.ts, xs.ts, …).

/**
 * The kernel: `kernel(main)` registers it; `Main.exit(code)` stops it.
 * `KernelMain` says what main's result becomes.
 */
export { kernel, Main, type KernelMain } from './runtime.ts';

/** Virtual time (`Time.now_ns`, `Time.wall_ns`, `Time.sleep_ns`) and the RxJS scheduler on it (`scheduler()`). */
export { Time, scheduler } from './runtime.ts';

/** RxJS <-> Lwt on virtual time: `fromLwt` (cancels the promise on unsubscribe), `toLwt` (first value; cancel unsubscribes), `retryBackoff`. */
export { fromLwt, toLwt, retryBackoff } from './rx.ts';

/** Output (`Console.log`, `Console.write`), the command line (`Cmdline.args`) and the kernel's frames (`Memory`). */
export { Console, Cmdline, Memory } from './runtime.ts';

/** Event channels (`Eventchn.*`, throw HypercallError) and waiting for them (`Activations.after` lossless, `.wait` lossy). */
export { Eventchn, Activations, program_start } from './runtime.ts';

/** Lwt-like promises and threads (`Lwt.wait`, `Lwt.bind`, `Lwt.join`, `Lwt.pick`…; `LwtT<T>` is the promise type). */
export { Lwt, type LwtT } from './runtime.ts';

/** The build variant this kernel was bundled with (the historical bugs, src/abi/variant.ts). */
export { buildVariant, type Variant } from './runtime.ts';

/**
 * Xenstore: `Xs.connect()` is the domain's client (`read`, `write`,
 * `directory`, `watch` as an RxJS Observable, `transaction` retried on
 * EAGAIN). Failures reject with XsError (Xen's errno name) or, if the daemon
 * broke the protocol, XsProtocolError (the client is then closed).
 */
export { Xs, XsError, XsProtocolError, type XsClient } from './xs.ts';
export type { XsHandle, XsTransaction, XsPerm } from './xs_handle.ts';

/** A hypercall's negative return (rc = -errno), thrown by Eventchn.* and the other hypercall wrappers. */
export { HypercallError } from './hypercall.ts';

/** Split-driver frontends: a network interface (vif) and a block device (vbd) over shared rings and grants. */
export { Netfront, type NetfrontStats } from './netfront.ts';

export { Blkfront } from './blkfront.ts';

/**
 * The network stack over a Netfront (Mirage tcpip's names): Ethernet, ARP,
 * IPv4, ICMP echo, UDP. `Stack.onNetfront(nf, await stackConfig(nf,
 * Cmdline.args))` answers ARP and ping from then on; `stack.udp.bind(port,
 * handler)` / `send(...)`, `udpEcho(stack.udp)` for the RFC 862 service.
 * Malformed or unwanted frames are dropped and counted per layer, never
 * thrown; `stackConfig` throws an Error naming a bad ip=/netmask=/mac.
 */
export { Stack, stackConfig, parseStackConfig, type StackConfig } from './net/stack.ts';
export { Udp, udpEcho, ECHO_PORT, type UdpHandler } from './net/udp.ts';

/** Grant table v1 (`Gnttab.get()`) and the page allocator (`Pages`) the frontends share. */
export { Gnttab, Pages } from './gnttab.ts';

/** Wait until a xenstore node satisfies a predicate (a watch and a re-read per event; never misses a write). */
export { waitFor } from './xenbus.ts';

/**
 * After a close the toolstack asked for: resolves once `device/<kind>/<id>/state` is no longer Closed (removed,
 * or a new device already in its place). Waiting for "gone" instead can wait forever after a detach + attach.
 */
export { frontendReleased } from './xenbus.ts';

/**
 * Devices that come and go (`xl network-attach`/`-detach`): `new FrontendBus(xs, 'vif', (id) => new Netfront(xs, id), hooks)`
 * connects each new device/<kind>/<id>, closes it when its backend goes Closing and gives its grants back.
 */
export { FrontendBus, type Frontend, type FrontendBusHooks } from './frontend_bus.ts';
