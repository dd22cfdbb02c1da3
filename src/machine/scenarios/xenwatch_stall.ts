// Scenario 2 (docs/architecture.md §6.2): the xenwatch stall, as a terminal session.
//
//   1. boot dom0 (xenbus, xenwatch or mtwatch), create domain 1 (a unikernel
//      with a netfront or a blkfront), let it talk to its backend;
//   2. stall the backend: the NIC keeps one zerocopy skb (netback), the disk
//      stops completing I/O (blkback-io), the block layer keeps a page of a
//      persistent grant (blkback-grant);
//   3. `xl destroy 1`: libxl's forced removal makes the backend disconnect
//      inside a watch callback, which blocks; libxl gives up after 10 s
//      (two error lines) and removes the domain's xenstore dirs anyway; the
//      hypervisor keeps the domain, dying, because the backend still maps its
//      pages: `xl list` shows `(null) 1 0 1 --p--d`;
//   4. `ps` / `/proc/PID/stack` show the stuck thread in D in kthread_stop;
//   5. `xl create` of the next domain: with the single xenwatch thread the new
//      backend is never probed (its event waits behind the stuck one), so
//      libxl prints the seven-line failure chain; with mtwatch only
//      [xen-mtwatch-1] is stuck and the domain starts;
//   6. the workaround (`ifconfig eth0 down; up`, resuming the disk, releasing
//      the page) lets the callback return; the queued events run, the grants
//      are unmapped and the zombie goes.

import { pipeText } from '../pipeline.ts';
import { Machine } from '../machine.ts';
import { XenbusState } from '../../abi/xen.ts';
import { Transcript } from './transcript.ts';
import { StopScenario, type Scenario, type ScenarioOptions, type ScenarioResult } from './types.ts';
import type { XlResult } from '../../dom0/toolstack/xl.ts';
import { makeDriver } from './driver.ts';

const S = 1e9;
const MS = 1e6;
/** How much the frontend does before the stall: frames through vif1.0 (one per ms), bios completed (depth 4). */
const WORK_FRAMES = 4;
const WORK_BIOS = 16;

export const STALL_STEPS = ['boot', 'create', 'stall', 'destroy', 'zombie', 'stuck-thread', 'create-next', 'workaround', 'drained', 'after'] as const;

export type Backend = NonNullable<ScenarioOptions['backend']>;

/** Frames the stuck watch thread's /proc/PID/stack must show (docs/architecture.md §5.1, §5.2). */
export const STUCK_FRAMES: Record<Backend, readonly string[]> = {
  netback: ['kthread_stop', 'xenvif_disconnect_data', 'set_backend_state', 'frontend_changed'],
  'blkback-io': ['xen_blkif_disconnect', 'frontend_changed'],
  'blkback-grant': ['gnttab_unmap_refs_sync', 'free_persistent_gnts', 'xen_blkif_disconnect'],
};

export interface StallKernels {
  netfront: string;
  blkfront: string;
  /** The kernel of the "next" domain (pv.cfg). */
  next: string;
}

export const DEFAULT_KERNELS: StallKernels = {
  netfront: 'kernels/netfront.ts',
  blkfront: 'kernels/blkfront.ts',
  next: 'kernels/blkfront.ts',
};

function configs(backend: Backend, k: StallKernels): Record<string, string> {
  const kernelLine = (path: string) => `kernel = "${path}"\n`;
  const d1 =
    backend === 'netback'
      ? `name = "netfront-1"\n${kernelLine(k.netfront)}memory = 64\nvcpus = 1\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nextra = "tx=1500 interval=1ms"\n`
      : `name = "blkfront-1"\n${kernelLine(k.blkfront)}memory = 64\nvcpus = 1\ndisk = [ 'format=raw, vdev=xvda, access=rw, target=mem:16' ]\nextra = "io=write depth=4"\n`;
  const pv = `name = "pv"\n${kernelLine(k.next)}memory = 64\nvcpus = 1\ndisk = [ 'format=raw, vdev=xvda, access=rw, target=mem:8' ]\n`;
  return { [backend === 'netback' ? 'netfront.cfg' : 'blkfront.cfg']: d1, 'pv.cfg': pv };
}

export const DESTROY_LINES = (domid: number, bePath: string) => [
  `libxl: error: libxl_device.c:1080:device_backend_callback: Domain ${domid}:unable to remove device with path ${bePath}`,
  `libxl: error: libxl_domain.c:1073:devices_destroy_cb: Domain ${domid}:libxl__devices_destroy failed`,
];

export const CREATE_FAIL_LINES = (domid: number) => [
  `libxl: error: libxl_device.c:1080:device_backend_callback: Domain ${domid}:unable to add device with path /local/domain/0/backend/vbd/${domid}/51712`,
  `libxl: error: libxl_create.c:1278:domcreate_launch_dm: Domain ${domid}:unable to add disk devices`,
  `libxl: error: libxl_device.c:1080:device_backend_callback: Domain ${domid}:unable to remove device with path /local/domain/0/backend/vbd/${domid}/51712`,
  `libxl: error: libxl_domain.c:1073:devices_destroy_cb: Domain ${domid}:libxl__devices_destroy failed`,
  `libxl: error: libxl_domain.c:1000:libxl__destroy_domid: Domain ${domid}:Non-existant domain`,
  `libxl: error: libxl_domain.c:959:domain_destroy_callback: Domain ${domid}:Unable to destroy guest`,
  `libxl: error: libxl_domain.c:886:domain_destroy_cb: Domain ${domid}:Destruction of domain failed`,
];

/** `xl list` rows without the Time column. */
export function listRows(r: XlResult): string[] {
  return r.stdout.trimEnd().split('\n').slice(1).map((l) => l.slice(0, 69));
}

export function makeStallScenario(kernels: StallKernels = DEFAULT_KERNELS): Scenario {
  return {
    name: 'xenwatch-stall',
    describe: 'a backend stalls inside a watch callback: (null) zombie, xl create fails (single) or not (mtwatch)',
    steps: STALL_STEPS,
    run: (opts) => runStall(opts, kernels),
  };
}

async function runStall(opts: ScenarioOptions, kernels: StallKernels): Promise<ScenarioResult> {
  const backend: Backend = opts.backend ?? 'netback';
  const mode = opts.xenwatch ?? 'single';
  const host = new Machine({ seed: opts.seed, trace: opts.trace ?? false, xenwatch: mode, ...(opts.scheduler ? { scheduler: opts.scheduler } : {}) });
  const k = host.kernel!;
  const files = configs(backend, kernels);
  for (const [n, v] of Object.entries(files)) host.files.set(n, v);
  const d1cfg = backend === 'netback' ? 'netfront.cfg' : 'blkfront.cfg';
  const feKernel = backend === 'netback' ? kernels.netfront : kernels.blkfront;
  await host.buildKernelFile(feKernel);
  await host.buildKernelFile(kernels.next);
  const { tr, xl, sh, stop, runFor, runUntil: runUntilSliced } = makeDriver(host, opts);
  // Conditions are looked at every 1 ms of virtual time, not the driver's 10:
  // the frontends run flat out (a frame per ms, bios as fast as the disk
  // answers), so every slice past the condition is work nobody looks at.
  const runUntil = (cond: () => boolean, limitNs: number) => runUntilSliced(cond, limitNs, { sliceNs: 1 * MS });
  const bePath = backend === 'netback' ? '/local/domain/0/backend/vif/1/0' : '/local/domain/0/backend/vbd/1/51712';
  // The operator's look at a backend's state, polled every slice: a peek at
  // xenstored's tree, not a xenstore-read process (one would be a dom0 task
  // in the schedule at every poll, and the polls are not part of the system).
  const beState = (p: string) => {
    const node = host.xsd.store.get(`${p}/state`);
    return node ? Number(new TextDecoder().decode(node.value)) : -1;
  };
  const stuckName = mode === 'single' ? 'xenwatch' : 'xen-mtwatch-1';
  const stuckThread = () => k.kthreads.list().find((t) => t.fullName === stuckName);
  // Let runnable work finish (threads passing through R, or D in read_reply) before looking.
  const settle = () => runFor(1 * MS);
  // Through the prompt's own grep, so the transcript shows what the command prints (grep drops ps's header).
  const psFilter = "grep -E 'xen|vif|blkback'";
  const psGrep = () => pipeText(k.psText(), psFilter);
  const fault = stallFault(host, backend);

  try {
    tr.step('boot', `xenwatch stall: backend ${backend}, dom0 xenwatch ${mode}, seed ${opts.seed}`);
    xl('list');
    sh(`ps ax | ${psFilter}`, psGrep());
    tr.check('dom0 kernel booted', k.ready && k.oopses.length === 0, k.oopses.join('; '));
    stop('boot');

    tr.step('create', `create domain 1 with a ${backend === 'netback' ? 'netfront' : 'blkfront'} and let it work`);
    const c1 = xl(`create ${d1cfg}`);
    tr.check('xl create succeeds', c1.code === 0, c1.stderr);
    const connected = runUntil(() => beState(bePath) === XenbusState.Connected, 5 * S);
    tr.check('backend reaches Connected (4)', connected, `state ${beState(bePath)}`);
    // Until the frontend's traffic has gone through the backend (the stall
    // needs a backend with work in hand, not a given amount of it): waiting
    // for the condition instead of a fixed 200 ms keeps the run short, the
    // frontends keep the backend as busy as the disk or the vif allows.
    tr.check(fault.workName, runUntil(fault.working, 200 * MS), fault.detail());
    xl(`console ${backend === 'netback' ? 'netfront-1' : 'blkfront-1'}`);
    fault.traffic(tr);
    stop('create');

    tr.step('stall', fault.title);
    fault.inject(tr);
    // The fault shows at the backend's next request (netback: the next frame
    // the NIC keeps); nothing after that changes what destroy runs into.
    runUntil(fault.stalled, 500 * MS);
    fault.show(tr);
    tr.check(fault.checkName, fault.stalled(), fault.detail());
    stop('stall');

    tr.step('destroy', 'xl destroy 1: the backend disconnects inside a watch callback and blocks');
    let t0 = host.sim.now;
    const d = xl('destroy 1');
    tr.note(`xl destroy returned after ${((host.sim.now - t0) / S).toFixed(3)} s (LIBXL_DESTROY_TIMEOUT)`);
    tr.check('libxl prints the two destroy error lines', d.stderr === DESTROY_LINES(1, bePath).join('\n') + '\n', d.stderr);
    tr.check('destroy waited 10 s', host.sim.now - t0 === 10 * S, String(host.sim.now - t0));
    stop('destroy');

    tr.step('zombie', 'the domain stays, dying and paused, while the backend maps its pages');
    const l1 = xl('list');
    const rows = listRows(l1);
    tr.check('xl list shows (null) 1 0 1 --p--d', rows.includes('(null)                                       1     0     1     --p--d'), rows.join(' | '));
    stop('zombie');

    tr.step('stuck-thread', `the stuck thread: [${stuckName}] in D`);
    settle();
    sh(`ps ax | ${psFilter}`, psGrep());
    const st = stuckThread();
    tr.check(`[${stuckName}] exists and is in D`, st?.state === 'D', st ? st.state : 'missing');
    if (st) {
      const stack = k.stack(st.pid) ?? '';
      sh(`cat /proc/${st.pid}/stack`, stack);
      for (const frame of STUCK_FRAMES[backend]) tr.check(`its stack has ${frame}`, stack.includes(`] ${frame}+`), stack);
    }
    if (mode === 'mtwatch') {
      const xw = k.kthreads.get(k.xenwatchPid);
      tr.check('[xenwatch] itself is not in D', xw?.state !== 'D', xw?.state);
    }
    stop('stuck-thread');

    tr.step('create-next', 'xl create pv.cfg: the next domain');
    t0 = host.sim.now;
    const c2 = xl('create pv.cfg');
    tr.note(`xl create returned after ${((host.sim.now - t0) / S).toFixed(3)} s`);
    if (mode === 'single') {
      tr.check('xl create fails with libxl\'s seven lines', c2.stderr === ['Parsing config from pv.cfg', ...CREATE_FAIL_LINES(2)].join('\n') + '\n', c2.stderr);
      tr.check('after 20 s (10 s add + 10 s remove)', host.sim.now - t0 === 20 * S, String(host.sim.now - t0));
    } else {
      tr.check('xl create succeeds', c2.code === 0 && !/error/.test(c2.stderr), c2.stderr);
      runUntil(() => beState('/local/domain/0/backend/vbd/2/51712') === XenbusState.Connected, 5 * S);
      xl('list');
      settle();
      sh(`ps ax | ${psFilter}`, psGrep());
      const inD = k.ps().filter((r) => r.stat === 'D').map((r) => r.command);
      tr.check('only [xen-mtwatch-1] is in D', inD.length === 1 && inD[0] === '[xen-mtwatch-1]', inD.join(' '));
    }
    stop('create-next');

    tr.step('workaround', fault.fixTitle);
    fault.release(tr);
    // Woken threads pass through R; done when the stuck one sleeps in S again (or exited).
    runUntil(() => {
      const t = stuckThread();
      return !t || t.state === 'S';
    }, 5 * S);
    runFor(500 * MS);
    const st2 = stuckThread();
    tr.check(`[${stuckName}] is no longer in D`, st2?.state !== 'D', st2 ? `${st2.state}\n${k.stack(st2.pid)}` : 'gone');
    sh(`ps ax | ${psFilter}`, psGrep());
    stop('workaround');

    tr.step('drained', 'the queued watch events run; the grants go back; the zombie disappears');
    runUntil(() => !host.hv.domain(1), 5 * S);
    const l2 = xl('list');
    tr.check('no (null) domain left', !/\(null\)/.test(l2.stdout), l2.stdout);
    tr.check('domain 1 is gone from the hypervisor', host.hv.domain(1) === undefined);
    tr.check('no backend dir of domain 1 left', host.xenstoreLs(bePath).code !== 0);
    tr.check('no kernel oops', k.oopses.length === 0, k.oopses.join('; '));
    stop('drained');

    tr.step('after', 'business as usual');
    if (mode === 'single') {
      const c3 = xl('create pv.cfg');
      tr.check('xl create succeeds now', c3.code === 0, c3.stderr);
    }
    const pvId = host.hv.domains().find((x) => x.name === 'pv' && !x.dying)?.id;
    if (pvId !== undefined) {
      runUntil(() => beState(`/local/domain/0/backend/vbd/${pvId}/51712`) === XenbusState.Connected, 5 * S);
      const dd = xl(`destroy ${pvId}`);
      tr.check('xl destroy of the new domain is clean', dd.code === 0 && dd.stderr === '', dd.stderr);
    }
    runUntil(() => host.hv.domains().length === 1, 2 * S);
    const l3 = xl('list');
    tr.check('only Domain-0 is left', listRows(l3).length === 1, l3.stdout);
  } catch (e) {
    if (!(e instanceof StopScenario)) throw e;
  }
  const failures = tr.failures;
  return {
    name: 'xenwatch-stall',
    options: opts,
    transcript: tr,
    host,
    ok: failures.length === 0,
    failures,
    replay: `xenode scenario xenwatch-stall --backend ${backend} --xenwatch ${mode} --seed ${opts.seed}`,
  };
}

interface Fault {
  title: string;
  fixTitle: string;
  checkName: string;
  workName: string;
  /** The frontend's traffic has reached the backend (enough to stall it). */
  working(): boolean;
  traffic(tr: Transcript): void;
  inject(tr: Transcript): void;
  show(tr: Transcript): void;
  stalled(): boolean;
  detail(): string;
  release(tr: Transcript): void;
}

function stallFault(host: Machine, backend: Backend): Fault {
  const k = host.kernel!;
  const sh = (tr: Transcript, cmd: string, out = '') => tr.cmd(cmd, { stdout: out, stderr: '' });
  if (backend === 'netback') {
    return {
      title: 'the NIC keeps one zerocopy skb from vif1.0 (the xwstall hook)',
      fixTitle: 'the 2016 workaround: ifconfig eth0 down; ifconfig eth0 up',
      checkName: 'one skb held, inflight > 0',
      workName: `vif1.0 has sent ${WORK_FRAMES} frames`,
      working: () => (k.netback.vifs.get('vif1.0')?.stats.tx_packets ?? 0) >= WORK_FRAMES,
      traffic: (tr) => sh(tr, 'ethtool -S vif1.0', k.ethtool('vif1.0') ?? 'no such device\n'),
      inject: (tr) => {
        k.nic.hold('vif1.0');
        sh(tr, 'echo vif1.0 > /sys/kernel/xwstall/vifname; echo 1 > /sys/kernel/xwstall/eavesdrop');
      },
      show: (tr) => {
        for (const l of k.nic.log) tr.note(l);
        sh(tr, 'ethtool -S vif1.0', k.ethtool('vif1.0') ?? 'no such device\n');
      },
      stalled: () => k.nic.heldCount === 1 && (k.netback.vifs.get('vif1.0')?.inflight ?? 0) > 0,
      detail: () => `held ${k.nic.heldCount}, inflight ${k.netback.vifs.get('vif1.0')?.inflight}`,
      release: (tr) => {
        k.ifconfig('eth0', 'down');
        sh(tr, 'ifconfig eth0 down');
        host.sim.run({ until: host.sim.now + 1 * MS });
        for (const l of k.nic.log.slice(-1)) tr.note(l);
        k.ifconfig('eth0', 'up');
        sh(tr, 'ifconfig eth0 up');
      },
    };
  }
  const rings = () => [...k.blkback.blkifs].flatMap((b) => b.rings);
  const pgnts = () => rings().reduce((n, r) => n + r.persistent_gnts.size, 0);
  const heldPgnts = () => rings().reduce((n, r) => n + [...r.persistent_gnts.values()].filter((g) => g.held).length, 0);
  const stats = () => `in flight ${k.blkback.queue.inFlight}, completed ${k.blkback.queue.completed}, persistent grants ${pgnts()} (${heldPgnts()} held)\n`;
  if (backend === 'blkback-io') {
    return {
      title: 'the disk under blkback stops answering (a hung NFS/iSCSI store): I/O stays in flight',
      fixTitle: 'the backing store comes back: the held bios complete',
      checkName: 'bios in flight, none completing',
      workName: `blkback has completed ${WORK_BIOS} bios`,
      working: () => k.blkback.queue.completed >= WORK_BIOS,
      traffic: (tr) => sh(tr, 'cat /sys/block/loop0/inflight  # blkback', stats()),
      inject: (tr) => {
        k.blkback.queue.stall();
        sh(tr, 'echo stall > /sys/block/loop0/fault');
      },
      show: (tr) => sh(tr, 'cat /sys/block/loop0/inflight  # blkback', stats()),
      stalled: () => k.blkback.queue.stalled && k.blkback.queue.inFlight > 0,
      detail: () => stats().trim(),
      release: (tr) => {
        k.blkback.queue.resume();
        sh(tr, 'echo resume > /sys/block/loop0/fault');
      },
    };
  }
  return {
    title: 'the block layer keeps a reference on a page of a persistent grant (page_count > 1)',
    fixTitle: 'the block layer drops its page reference: the unmap retry succeeds',
    checkName: 'a persistent grant page is held',
    workName: `blkback has completed ${WORK_BIOS} bios over persistent grants`,
    working: () => k.blkback.queue.completed >= WORK_BIOS && pgnts() > 0,
    traffic: (tr) => sh(tr, 'cat /sys/block/loop0/inflight  # blkback', stats()),
    inject: (tr) => {
      k.blkback.holdPersistentGrant();
      sh(tr, 'echo hold > /sys/kernel/debug/xen_blkback/persistent_gnt  # get_page() on one');
    },
    show: (tr) => sh(tr, 'cat /sys/block/loop0/inflight  # blkback', stats()),
    stalled: () => heldPgnts() > 0,
    detail: () => stats().trim(),
    release: (tr) => {
      k.blkback.releasePersistentGrants();
      sh(tr, 'echo release > /sys/kernel/debug/xen_blkback/persistent_gnt  # put_page()');
    },
  };
}
