// kexec: frontend hand-over without destroying the domain (docs/architecture.md §6.4). Connects its first device (dev=vif: netfront, dev=vbd:
// blkfront), passes traffic, then `cycles` times (default 3):
//   suspend: unregister its xenstore watches (UNWATCH), disconnect
//     (Closing → backend Closed → end every grant → Initialising);
//   "boot the next kernel" (a pause), reconnect (new rings, new port),
//     re-register its watches, pass traffic again.
// After each cycle it prints the live grant count, which must equal the one
// after the first connect. Then it follows the toolstack: when the backend
// goes Closing (`xl network-detach` / `block-detach`) it closes and gives
// its grants back; when a new device appears (`xl network-attach` /
// `block-attach`) it connects to it. Command line: dev=vif cycles=3 pause=50
// (ms); leak=1 keeps one grant per hand-over (to show the checks catch it).
//
// Console lines (the scenario parses them):
//   kexec: vif 0 connected to <be> port P grants G
//   kexec: traffic ok: ...
//   kexec: cycle I suspend: watches off
//   kexec: cycle I closed: grants G returned yes|no
//   kexec: baseline: grants B          (after the first connect and its traffic)
//   kexec: cycle I reconnected: port P
//   kexec: cycle I done: grants G baseline B
//   kexec: handover done: N cycles grants G baseline B
//   kexec: vif D detached: grants G returned yes|no
//   kexec: vif D attached: port P
//   kexec: vif D in use: grants G     (after its traffic)
//xl: vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]
import { Blkfront, Cmdline, Console, Gnttab, Lwt, Netfront, Pages, Time, Xs, frontendReleased, kernel, type XsClient } from 'xenode/guest';
import { XenbusState } from 'xenode/abi';

const MS = 1e6;

interface Front {
  readonly backend: string;
  readonly port: number;
  connect(): Promise<boolean>;
  disconnect(): Promise<boolean>;
  /** Some I/O; resolves with a one-line summary, or throws. */
  traffic(): Promise<string>;
}

function netFront(xs: XsClient, devid: number): Front {
  const nf = new Netfront(xs, devid);
  const frame = new Uint8Array(1500);
  frame.fill(0xff, 0, 6);
  frame.set([0x00, 0x16, 0x3e, 0x00, 0x00, 0x01], 6);
  frame[12] = 0x08;
  for (let i = 14; i < frame.length; i++) frame[i] = i & 0xff;
  return {
    get backend() {
      return nf.backend;
    },
    get port() {
      return nf.port;
    },
    connect: () => nf.connect(),
    disconnect: () => nf.disconnect(),
    async traffic() {
      const before = nf.stats.txPackets;
      const errors = nf.stats.txErrors;
      let sent = 0;
      for (let i = 0; i < 8; i++) {
        if (nf.send(frame)) sent++;
        await Time.sleep_ns(1 * MS);
      }
      for (let i = 0; i < 500 && nf.txInFlight > 0; i++) await Time.sleep_ns(1 * MS);
      if (sent !== 8 || nf.txInFlight !== 0 || nf.stats.txErrors !== errors) {
        throw new Error(`tx: sent ${sent}/8, ${nf.txInFlight} in flight, ${nf.stats.txErrors - errors} errors`);
      }
      return `tx ${nf.stats.txPackets - before} frames answered (total ${nf.stats.txPackets})`;
    },
  };
}

function blkFront(xs: XsClient, vdev: number): Front {
  const bf = new Blkfront(xs, vdev);
  let n = 0;
  return {
    get backend() {
      return bf.backend;
    },
    get port() {
      return bf.port;
    },
    connect: () => bf.connect(),
    disconnect: () => bf.disconnect(),
    async traffic() {
      n++;
      const pattern = new Uint8Array(4096).map((_, i) => (i * 7 + n) & 0xff);
      const w = await bf.io('write', 8 * n, pattern);
      const back = new Uint8Array(4096);
      const r = await bf.io('read', 8 * n, back);
      if (w !== 0 || r !== 0 || !back.every((v, i) => v === pattern[i])) throw new Error(`round trip: write ${w}, read ${r}, data ${back[1]} vs ${pattern[1]}`);
      return `round trip ok at sector ${8 * n} (${bf.stats.writes} writes, ${bf.stats.reads} reads)`;
    },
  };
}

/** Resolves with the first child of `dir` for which `ok` holds (a watch on the directory; UNWATCH once found). */
function firstChild(xs: XsClient, dir: string, ok: (name: string) => Lwt.Lwt<boolean>): Lwt.Lwt<string> {
  const [p, r] = Lwt.wait<string>();
  let done = false;
  let sub: { unsubscribe(): void } | undefined;
  const found = (k: string) => {
    if (done) return;
    done = true;
    sub?.unsubscribe();
    Lwt.wakeup(r, k);
  };
  const check = () =>
    Lwt.catch_(() => xs.directory(dir), () => [] as string[]).bind_((kids) =>
      Lwt.join(kids.map((k) => ok(k).map_((yes) => { if (yes) found(k); }))),
    );
  sub = xs.watch(dir).subscribe({ next: () => void check() });
  if (done) sub.unsubscribe();
  return p;
}

kernel(async () => {
  const kind = Cmdline.args.dev === 'vbd' ? 'vbd' : 'vif';
  const cycles = Number(Cmdline.args.cycles ?? 3);
  const pause = Number(Cmdline.args.pause ?? 50) * MS;
  const xs = Xs.connect();
  const gnt = Gnttab.get();
  const make = (id: number) => (kind === 'vif' ? netFront(xs, id) : blkFront(xs, id));
  const log = (s: string) => Console.log(`kexec: ${s}`);

  /** The next device of our kind whose frontend is Initialising and has a backend. */
  const nextDevice = async (): Promise<number> =>
    Number(
      await firstChild(xs, `device/${kind}`, (k) =>
        xs.tryRead(`device/${kind}/${k}/state`).bind_((st) =>
          xs.tryRead(`device/${kind}/${k}/backend`).map_((be) => be !== undefined && Number(st) === XenbusState.Initialising),
        ),
      ),
    );

  /**
   * The watch the running kernel keeps on its backend (Mini-OS netfront's
   * watch on <backend>/state): it learns about a toolstack removal from it.
   * Unsubscribing sends XS_UNWATCH.
   */
  let closing: Lwt.Lwt<void> = Lwt.return_unit;
  let watch: { unsubscribe(): void } | undefined;
  const arm = (f: Front) => {
    const [p, r] = Lwt.wait<void>();
    closing = p;
    let fired = false;
    watch = xs.watch(`${f.backend}/state`).subscribe({
      next: () => {
        void Lwt.catch_(() => xs.tryRead(`${f.backend}/state`), () => undefined).map_((v) => {
          if (!fired && (v === undefined || Number(v) >= XenbusState.Closing)) {
            fired = true;
            Lwt.wakeup(r, undefined);
          }
        });
      },
    });
  };
  const disarm = () => {
    watch?.unsubscribe();
    watch = undefined;
  };

  let devid = await nextDevice();
  let f = make(devid);
  await f.connect();
  log(`${kind} ${devid} connected to ${f.backend} port ${f.port} grants ${gnt.live}`);
  arm(f);
  log(`traffic ok: ${await f.traffic()}`);
  // After the first connect and its traffic (blkfront grants its data pages on first use).
  const baseline = gnt.live;
  log(`baseline: grants ${baseline}`);
  // Quiet spells between phases (the scenario looks at the machine there).
  await Time.sleep_ns(pause);

  for (let i = 1; i <= cycles; i++) {
    disarm();
    log(`cycle ${i} suspend: watches off`);
    const all = await f.disconnect();
    // leak=1 (tests only): a frontend that keeps one RX buffer's grant across the hand-over.
    if (Cmdline.args.leak === '1') gnt.grant(0, Pages.alloc());
    log(`cycle ${i} closed: grants ${gnt.live} returned ${all ? 'yes' : 'no'}`);
    await Time.sleep_ns(pause);
    await f.connect();
    arm(f);
    log(`cycle ${i} reconnected: port ${f.port}`);
    log(`traffic ok: ${await f.traffic()}`);
    log(`cycle ${i} done: grants ${gnt.live} baseline ${baseline}`);
    await Time.sleep_ns(pause);
  }
  log(`handover done: ${cycles} cycles grants ${gnt.live} baseline ${baseline}`);

  // Follow the toolstack: detach → close and give everything back; attach → connect.
  for (;;) {
    await closing;
    disarm();
    const all = await f.disconnect();
    log(`${kind} ${devid} detached: grants ${gnt.live} returned ${all ? 'yes' : 'no'}`);
    // Wait until the Closed frontend is released, then for a new device. Not
    // "until the old dir is gone": an attach right after the detach re-creates
    // it before our read is answered (frontendReleased's interleaving).
    await frontendReleased(xs, `device/${kind}/${devid}`);
    devid = await nextDevice();
    f = make(devid);
    await f.connect();
    arm(f);
    log(`${kind} ${devid} attached: port ${f.port}`);
    log(`traffic ok: ${await f.traffic()}`);
    log(`${kind} ${devid} in use: grants ${gnt.live}`);
  }
});
