// Scenario 4 (docs/architecture.md §6.4): frontend hand-over without destroying the domain
// (kexec), as a terminal session.
//
//   1. boot dom0, create domain 1 running kernels/kexec.ts with one vif
//      (netback) or one vbd (blkback); it connects and passes traffic;
//   2. `cycles` hand-overs: the frontend unregisters its watches (xenstored
//      sees XS_UNWATCH), goes Closing → Closed, ends every grant, goes
//      Initialising; the backend walks Closing → Closed → InitWait and, when
//      the frontend reconnects (new rings, new port), Connected; traffic
//      passes again; the guest's live grant count is back at its baseline;
//   3. `xl network-detach` / `xl network-attach` (block-detach / -attach) on
//      the running domain, `cycles` times: the frontend sees its backend go
//      Closing, closes and gives its grants back; the new device appears and
//      it connects to it;
//   4. no leak: the 'e' dump's ports, the guest's grants (its own count and
//      the entries in its grant table), dom0's mappings of its grants and its
//      xenstore watches are where they were after the first connect.
//
// The state lines of both ends come from xenstored itself: every change of
// the two `state` nodes and every watch the domain unregisters is recorded
// as it is committed.

import { GRANT_ENTRY_V1, XenbusState } from '../../abi/xen.ts';
import { Machine } from '../machine.ts';
import { StopScenario, type Scenario, type ScenarioOptions, type ScenarioResult } from './types.ts';
import { makeDriver } from './driver.ts';

const S = 1e9;
const MS = 1e6;

export const HANDOVER_STEPS = ['boot', 'handover', 'detach-attach', 'leaks'] as const;
export const KEXEC_KERNEL = 'kernels/kexec.ts';

export type HandoverBackend = 'netback' | 'blkback';

interface XsEvent {
  t: number;
  kind: 'state' | 'unwatch';
  path: string;
  value: string;
  domid: number;
}

/** Consecutive duplicates dropped: `[4,5,5,6]` → `[4,5,6]`. */
function dedupe(xs: number[]): number[] {
  return xs.filter((v, i) => i === 0 || v !== xs[i - 1]);
}

export const frontendHandover: Scenario = {
  name: 'frontend-handover',
  describe: 'kexec: frontends go Closing → Initialising and reconnect; detach/attach loop; no grant/port/watch leaks',
  steps: HANDOVER_STEPS,
  run: (opts) => runFrontendHandover(opts),
};

/**
 * The scenario; `kernelArgs` are appended to the kernel's command line (tests:
 * `leak=1` makes the kernel keep one grant per hand-over, which the checks must catch).
 */
export async function runFrontendHandover(opts: ScenarioOptions, tweaks: { kernelArgs?: string } = {}): Promise<ScenarioResult> {
  const more = tweaks.kernelArgs ? ` ${tweaks.kernelArgs}` : '';
  const backend: HandoverBackend = opts.handoverBackend ?? 'netback';
  const cycles = opts.cycles ?? 3;
  const net = backend === 'netback';
  const kind = net ? 'vif' : 'vbd';
  const devid = net ? 0 : 51712;
  const host = new Machine({ seed: opts.seed, trace: opts.trace ?? false, ...(opts.scheduler ? { scheduler: opts.scheduler } : {}) });
  const k = host.kernel!;
  const cfg = net
    ? `name = "kexec"\nkernel = "${KEXEC_KERNEL}"\nmemory = 64\nvcpus = 1\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nextra = "dev=vif cycles=${cycles}${more}"\n`
    : `name = "kexec"\nkernel = "${KEXEC_KERNEL}"\nmemory = 64\nvcpus = 1\ndisk = [ 'format=raw, vdev=xvda, access=rw, target=mem:16' ]\nextra = "dev=vbd cycles=${cycles}${more}"\n`;
  host.files.set('kexec.cfg', cfg);
  await host.buildKernelFile(KEXEC_KERNEL);
  const drv = makeDriver(host, opts);
  const tr = drv.tr;
  const replay = `xenode scenario frontend-handover --backend ${backend} --cycles ${cycles} --seed ${opts.seed}`;

  const domid = 1;
  const fePath = `/local/domain/${domid}/device/${kind}/${devid}`;
  const bePath = `/local/domain/0/backend/${kind}/${domid}/${devid}`;
  const vifName = `vif${domid}.0`;

  // ---- xenstored's view: state changes of both ends, watches the domain drops.
  const events: XsEvent[] = [];
  const xsd = host.xsd;
  const origFire = xsd.fire.bind(xsd);
  const dec = new TextDecoder();
  xsd.fire = (path, change) => {
    origFire(path, change);
    if (path === `${fePath}/state` || path === `${bePath}/state`) {
      const n = xsd.store.get(path);
      events.push({ t: host.sim.now, kind: 'state', path, value: n ? dec.decode(n.value) : '(removed)', domid: -1 });
    }
  };
  const origRemove = xsd.watches.remove.bind(xsd.watches);
  xsd.watches.remove = (w) => {
    events.push({ t: host.sim.now, kind: 'unwatch', path: w.path, value: w.token, domid: w.conn.domid });
    origRemove(w);
  };

  // ---- probes
  const { xl, sh, stop, runFor } = drv;
  const runUntil = (cond: () => boolean, limitNs: number) => drv.runUntil(cond, limitNs, { sliceNs: 1 * MS, abort: dead });
  const dom = () => host.hv.domain(domid);
  const dead = () => {
    const d = dom();
    return !d || d.dying || d.shutdownReason !== undefined;
  };
  const consoleLines = () => (host.console(domid) ?? '').split('\n').filter((l) => l.startsWith('kexec: '));
  const count = (prefix: string) => consoleLines().filter((l) => l.startsWith(prefix)).length;
  const lastLine = (prefix: string) => consoleLines().filter((l) => l.startsWith(prefix)).at(-1) ?? '';
  const waitLine = (prefix: string, n = 1, limit = 5 * S) => runUntil(() => count(prefix) >= n, limit);
  const xsRead = (path: string) => {
    const r = host.xenstoreRead(path);
    tr.cmd(`xenstore-read ${path}`, r);
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  const states = () => {
    xsRead(`${fePath}/state`);
    xsRead(`${bePath}/state`);
  };
  /** Ports of domain `id` in the 'e' dump. */
  const ports = (dump: string, id: number): number => {
    let inDom = false;
    let n = 0;
    for (const l of dump.split('\n')) {
      const m = /Event channel information for domain (\d+):/.exec(l);
      if (m) inDom = Number(m[1]) === id;
      else if (inDom && /^\(XEN\)\s+\d+ \[\d\/\d\/\d\]:/.test(l)) n++;
    }
    return n;
  };
  /** Entries of d1's grant table that grant access (the hypervisor's view of the guest's grants). */
  const tableGrants = (): number => {
    const d = dom();
    if (!d) return -1;
    let n = 0;
    for (const f of d.gnttab.frames) {
      const dv = new DataView(f);
      for (let o = 0; o + GRANT_ENTRY_V1.size <= f.byteLength; o += GRANT_ENTRY_V1.size) if ((dv.getUint16(o + GRANT_ENTRY_V1.flags, true) & 3) !== 0) n++;
    }
    return n;
  };
  const dom0Maps = () => host.dom0.gnttab.handlesOf(domid).length;
  const watchesOfD1 = () => xsd.usage(domid).watches;
  const guestGrants = (line: string) => Number(/grants (\d+)/.exec(line)?.[1] ?? NaN);
  const counters = () => {
    if (net) sh(`ethtool -S ${vifName}`, k.ethtool(vifName) ?? 'Cannot get stats information: No such device\n');
    else {
      const rings = [...k.blkback.blkifs].flatMap((b) => b.rings);
      const pg = rings.reduce((n, r) => n + r.persistent_gnts.size, 0);
      sh('cat /sys/block/loop0/inflight  # blkback', `in flight ${k.blkback.queue.inFlight}, completed ${k.blkback.queue.completed}, persistent grants ${pg}\n`);
    }
  };
  const grantsLine = (guest: string) =>
    tr.note(`grants: guest says ${guest}; d1's table has ${tableGrants()} live entries; dom0 maps ${dom0Maps()} of them (mapped total ${host.dom0.gnttab.mappedCount}, d1 foreignMapCount ${dom()?.gnttab.foreignMapCount}); d1 xenstore watches ${watchesOfD1()}`);
  const zcSuccess = () => (net ? (k.netback.vifs.get(vifName)?.stats.tx_zerocopy_success ?? 0) : k.blkback.queue.completed);

  let base = { ports1: 0, ports0: 0, table: 0, maps: 0, guest: 0, watches: 0 };

  try {
    // ------------------------------------------------------------------ boot
    tr.step('boot', `frontend hand-over (kexec): ${backend}, ${cycles} cycles, seed ${opts.seed}`);
    const c = xl('create kexec.cfg');
    tr.check('xl create succeeds', c.code === 0, c.stderr);
    const up = waitLine('kexec: baseline:');
    tr.check('the kernel connects and passes traffic', up && count('kexec: traffic ok') >= 1, consoleLines().join(' | ') || (host.console(domid) ?? ''));
    runFor(10 * MS);
    xl('list');
    states();
    tr.check('both ends Connected (4)', lastState(events, `${fePath}/state`) === '4' && lastState(events, `${bePath}/state`) === '4', `${lastState(events, `${fePath}/state`)} / ${lastState(events, `${bePath}/state`)}`);
    for (const l of consoleLines()) tr.note(`console: ${l}`);
    counters();
    const dump0 = host.hv.debugKey('e');
    base = { ports1: ports(dump0, domid), ports0: ports(dump0, 0), table: tableGrants(), maps: dom0Maps(), guest: guestGrants(lastLine('kexec: baseline:')), watches: watchesOfD1() };
    sh(`xl debug-keys e; xl dmesg | grep -A99 'domain ${domid}:'`, dump0.split('\n').slice(dump0.split('\n').findIndex((l) => l.includes(`for domain ${domid}:`))).join('\n'));
    grantsLine(String(base.guest));
    tr.check('the kernel keeps one watch (its backend state)', base.watches === 1, String(base.watches));
    stop('boot');

    // ------------------------------------------------------------------ handover
    tr.step('handover', `${cycles} hand-overs: Closing → Closed → Initialising → reconnect, on both ends`);
    for (let i = 1; i <= cycles; i++) {
      const from = events.length;
      const zc0 = zcSuccess();
      const oldPort = /port (\d+)/.exec(i === 1 ? lastLine(`kexec: ${kind} `) : lastLine(`kexec: cycle ${i - 1} reconnected`))?.[1];
      tr.note(`--- cycle ${i}`);
      const closed = waitLine(`kexec: cycle ${i} closed`);
      tr.check(`cycle ${i}: the frontend closes`, closed, lastLine('kexec: '));
      runFor(5 * MS);
      tr.note(`suspended (the next kernel is booting):`);
      states();
      const susp = { table: tableGrants(), maps: dom0Maps(), watches: watchesOfD1() };
      const closedLine = lastLine(`kexec: cycle ${i} closed`);
      grantsLine(String(guestGrants(closedLine)));
      tr.check(`cycle ${i}: every grant given back (guest count 0, "returned yes")`, guestGrants(closedLine) === 0 && closedLine.endsWith('returned yes'), closedLine);
      tr.check(`cycle ${i}: dom0 maps only d1's xenstore and console rings`, susp.maps === 2, String(susp.maps));
      tr.check(`cycle ${i}: d1's grant table back to its reserved entries`, susp.table === base.table - base.guest, `${susp.table} vs ${base.table - base.guest}`);
      tr.check(`cycle ${i}: d1 holds no xenstore watch while suspended`, susp.watches === 0, String(susp.watches));
      const done = waitLine(`kexec: cycle ${i} done`);
      tr.check(`cycle ${i}: reconnected and traffic passed`, done && count('kexec: traffic ok') >= i + 1, lastLine('kexec: '));
      runFor(5 * MS);
      const evs = events.slice(from);
      const fe = dedupe(evs.filter((e) => e.kind === 'state' && e.path === `${fePath}/state`).map((e) => Number(e.value)));
      const be = dedupe(evs.filter((e) => e.kind === 'state' && e.path === `${bePath}/state`).map((e) => Number(e.value)));
      tr.note(`frontend ${fePath}/state: ${fe.map(stateName).join(' → ')}`);
      tr.note(`backend  ${bePath}/state: ${be.map(stateName).join(' → ')}`);
      const unw = evs.filter((e) => e.kind === 'unwatch' && e.domid === domid);
      const unwBe = evs.findIndex((e) => e.kind === 'unwatch' && e.domid === domid && e.path === `${bePath}/state`);
      const feClosing = evs.findIndex((e) => e.kind === 'state' && e.path === `${fePath}/state` && e.value === String(XenbusState.Closing));
      const byPath = new Map<string, number>();
      for (const e of unw) byPath.set(e.path, (byPath.get(e.path) ?? 0) + 1);
      tr.note(`xenstored: XS_UNWATCH from d${domid}: ${[...byPath].map(([p, n]) => `${p} x${n}`).join(', ') || 'none'} (the first, the kernel's own watch, before the frontend's Closing; the others its state waits)`);
      states();
      for (const l of consoleLines().filter((l) => l.startsWith(`kexec: cycle ${i} `))) tr.note(`console: ${l}`);
      tr.note(`console: ${lastLine('kexec: traffic ok')}`);
      counters();
      const doneLine = lastLine(`kexec: cycle ${i} done`);
      grantsLine(String(guestGrants(doneLine)));
      const feWant = net ? [5, 6, 1, 4] : [5, 6, 1, 3, 4];
      tr.check(`cycle ${i}: frontend ${feWant.map(stateName).join(' → ')}`, same(fe, feWant), fe.join(','));
      tr.check(`cycle ${i}: backend Closing → Closed → InitWait → Connected`, same(be, [5, 6, 2, 4]), be.join(','));
      tr.check(`cycle ${i}: the backend-state watch is unregistered (UNWATCH) before Closing`, unwBe >= 0 && feClosing >= 0 && unwBe < feClosing, `unwatch #${unwBe}, Closing #${feClosing}`);
      tr.check(`cycle ${i}: guest grants back to baseline (${base.guest})`, guestGrants(doneLine) === base.guest, doneLine);
      tr.check(`cycle ${i}: d1's table and dom0's mappings as after the first connect`, tableGrants() === base.table && dom0Maps() === base.maps, `table ${tableGrants()}/${base.table}, maps ${dom0Maps()}/${base.maps}`);
      tr.check(`cycle ${i}: traffic after reconnect reached the backend`, zcSuccess() > zc0, `${zc0} → ${zcSuccess()}`);
      tr.check(`cycle ${i}: one watch again`, watchesOfD1() === 1, String(watchesOfD1()));
      const newPort = /port (\d+)/.exec(lastLine(`kexec: cycle ${i} reconnected`))?.[1];
      tr.check(`cycle ${i}: a new event channel (port ${newPort}, was ${oldPort}; the old one was closed)`, newPort !== undefined && ports(host.hv.debugKey('e'), domid) === base.ports1, `ports ${ports(host.hv.debugKey('e'), domid)} vs ${base.ports1}`);
    }
    const fin = waitLine('kexec: handover done');
    const finLine = lastLine('kexec: handover done');
    tr.note(`console: ${finLine}`);
    tr.check('the kernel ends the hand-overs with its baseline grant count', fin && guestGrants(finLine) === base.guest, finLine);
    stop('handover');

    // ------------------------------------------------------------------ detach/attach
    tr.step('detach-attach', `xl ${net ? 'network' : 'block'}-detach / -attach on the running domain, ${cycles} times`);
    for (let i = 1; i <= cycles; i++) {
      tr.note(`--- round ${i}`);
      const zc0 = zcSuccess();
      const d = xl(net ? `network-detach ${domid} 0` : `block-detach ${domid} xvda`);
      tr.check(`round ${i}: detach succeeds at once (the frontend answered)`, d.code === 0 && d.stderr === '', d.stderr);
      const det = waitLine(`kexec: ${kind} ${devid} detached`, i);
      const detLine = lastLine(`kexec: ${kind} ${devid} detached`);
      runFor(5 * MS);
      tr.note(`console: ${detLine}`);
      const gone = host.xenstoreLs(bePath).code !== 0 && host.xenstoreLs(fePath).code !== 0;
      tr.check(`round ${i}: the frontend closed and gave every grant back`, det && guestGrants(detLine) === 0 && detLine.endsWith('returned yes'), detLine);
      tr.check(`round ${i}: both device dirs removed`, gone);
      if (net) tr.check(`round ${i}: ${vifName} unregistered`, !k.netback.vifs.has(vifName));
      tr.check(`round ${i}: dom0 maps only d1's xenstore and console rings`, dom0Maps() === 2, String(dom0Maps()));
      tr.check(`round ${i}: d1's event channels: only the non-device ones`, ports(host.hv.debugKey('e'), domid) === base.ports1 - 1, `${ports(host.hv.debugKey('e'), domid)} vs ${base.ports1 - 1}`);
      grantsLine('0');
      const a = xl(net ? `network-attach ${domid} mac=00:16:3e:00:00:01` : `block-attach ${domid} format=raw,vdev=xvda,access=rw,target=mem:16`);
      tr.check(`round ${i}: attach succeeds`, a.code === 0 && a.stderr === '', a.stderr);
      const att = waitLine(`kexec: ${kind} ${devid} in use`, i);
      runFor(5 * MS);
      states();
      for (const p of [`kexec: ${kind} ${devid} attached`, 'kexec: traffic ok', `kexec: ${kind} ${devid} in use`]) tr.note(`console: ${lastLine(p)}`);
      counters();
      const useLine = lastLine(`kexec: ${kind} ${devid} in use`);
      grantsLine(String(guestGrants(useLine)));
      tr.check(`round ${i}: the frontend connects to the new device and passes traffic`, att && zcSuccess() > (net ? 0 : zc0), lastLine('kexec: '));
      tr.check(`round ${i}: grants as after the first connect`, guestGrants(useLine) === base.guest && tableGrants() === base.table && dom0Maps() === base.maps, `guest ${guestGrants(useLine)}/${base.guest}, table ${tableGrants()}/${base.table}, maps ${dom0Maps()}/${base.maps}`);
    }
    stop('detach-attach');

    // ------------------------------------------------------------------ leaks
    tr.step('leaks', 'nothing leaked: ports, grants, mappings, watches');
    runFor(50 * MS);
    const dump1 = host.hv.debugKey('e');
    const now = { ports1: ports(dump1, domid), ports0: ports(dump1, 0), table: tableGrants(), maps: dom0Maps(), watches: watchesOfD1() };
    sh(`xl debug-keys e; xl dmesg | grep -c port  # d${domid} / d0`, `${now.ports1} / ${now.ports0}  (after the first connect: ${base.ports1} / ${base.ports0})\n`);
    grantsLine(String(guestGrants(lastLine(`kexec: ${kind} ${devid} in use`))));
    xl('list');
    tr.check(`d${domid}'s event channels: as many as after the first connect`, now.ports1 === base.ports1, `${now.ports1} vs ${base.ports1}`);
    tr.check("dom0's event channels: as many as after the first connect", now.ports0 === base.ports0, `${now.ports0} vs ${base.ports0}`);
    tr.check(`d${domid}'s grant table: as many live entries`, now.table === base.table, `${now.table} vs ${base.table}`);
    tr.check(`dom0 maps as many of d${domid}'s grants`, now.maps === base.maps, `${now.maps} vs ${base.maps}`);
    tr.check(`d${domid} holds as many xenstore watches`, now.watches === base.watches, `${now.watches} vs ${base.watches}`);
    tr.check('the domain is alive (never destroyed)', !dead(), host.console(domid)?.split('\n').slice(-3).join(' | '));
    tr.check('no kernel oops, no backend errors, no hypervisor internal errors', k.oopses.length === 0 && k.bus.errors.length === 0 && host.hv.internalErrors.length === 0, [...k.oopses, ...k.bus.errors.map(String), ...host.hv.internalErrors].join('; '));
  } catch (e) {
    if (!(e instanceof StopScenario)) throw e;
  }
  const failures = tr.failures;
  return { name: 'frontend-handover', options: opts, transcript: tr, host, ok: failures.length === 0, failures, replay };
}

function lastState(events: XsEvent[], path: string): string | undefined {
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.kind === 'state' && events[i]!.path === path) return events[i]!.value;
  return undefined;
}

function same(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const NAMES = ['Unknown', 'Initialising', 'InitWait', 'Initialised', 'Connected', 'Closing', 'Closed', 'Reconfiguring', 'Reconfigured'];
function stateName(s: number): string {
  return `${s} (${NAMES[s] ?? '?'})`;
}
