// The missed-event hang of the 2020 Solo5/MirageOS PVHv2 port, played with
// the report's own kind of guest: kernels/ping.ts (xenstore client, console,
// netfront, a ping responder) on a full host, ports as in the June 15 log
// (1 xenstore, 2 console, 3 VIRQ_TIMER, 4 netfront), built with a runtime
// variant:
//   june-2020                  the runtime as it was on 15 June 2020: the
//                              unmask that tests the mask bit AND hlt with
//                              IF=1, per-vCPU vector, masking demux
//   unmask=checks-mask, block=hlt-without-cli, handler-clears-upcall-pending,
//   upcall=global-callback     one bug each
//   fixed                      today's runtime
// and a workload:
//   netfront-setup   boot until the stack is up and one ping is answered
//                    (the report: "block at different places during
//                    Netfront setup")
//   ping-flood       then `ping -f -c N` from dom0 (the report: "packets are
//                    not actually being delivered")
//   xenstore         then N commands through the guest's xenstore watch
// On a hang the transcript shows the 'e' dump, the verdict (hang or stall,
// after running on to the vCPU's timer) and the numbered interleaving that
// lost the event (explain.ts).

import { SimThread } from '../../sim/index.ts';
import { parsePing, ping } from '../../dom0/ping.ts';
import { Machine } from '../machine.ts';
import { defaultNamer, explainHang, formatExplanation, type Explanation } from '../explain.ts';
import { decideHang, type Verdict } from '../verdict.ts';
import { markHang } from '../run_kernel.ts';
import { makeDriver } from './driver.ts';
import { StopScenario, type Scenario, type ScenarioOptions, type ScenarioResult } from './types.ts';

export const WORKLOADS = ['netfront-setup', 'ping-flood', 'xenstore'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** The variant names this scenario offers; `june-2020` is the combination of the two bugs present on 15 June 2020. */
export const JUNE_2020 = 'unmask=checks-mask,block=hlt-without-cli';
export function variantSpec(v: string): string {
  return v === 'june-2020' ? JUNE_2020 : v;
}

const S = 1e9;
const MS = 1e6;
const KERNEL = 'kernels/ping.ts';
const GUEST_IP = '10.0.0.2';

export interface MissedEventResult extends ScenarioResult {
  /** ok | hang | stall | crash | timeout */
  outcome: string;
  verdict: Verdict | undefined;
  explanations: Explanation[];
  /** The (XEN) 'e' dump at the end. */
  dump: string;
  /** Domain 1's port lines of the dump (`1 [1/0/1]: s=3 …`, without the `(XEN)` prefix). */
  portLines: string[];
  /** dom0's ping output (ping-flood). */
  pingOutput: string;
}

export interface MissedEventScenario extends Scenario {
  run(o: ScenarioOptions): Promise<MissedEventResult>;
}

export const missedEvent: MissedEventScenario = {
  name: 'missed-event',
  describe: 'the 2020 PVHv2 missed-event hang: a Mirage-like guest (xenstore, console, netfront, ping) under a runtime variant and a workload',
  steps: ['boot', 'workload', 'verdict'],
  async run(o: ScenarioOptions): Promise<MissedEventResult> {
    const variant = o.variant ?? 'fixed';
    const workload = (o.workload ?? 'netfront-setup') as Workload;
    if (!WORKLOADS.includes(workload)) throw new Error(`--workload must be one of ${WORKLOADS.join(', ')}`);
    const count = o.count ?? (workload === 'ping-flood' ? 2000 : 50);
    const host = new Machine({ seed: o.seed, trace: o.trace ?? false, xenpvQemu: false, variant: variantSpec(variant), ...(o.scheduler ? { scheduler: o.scheduler } : {}) });
    const replay = `xenode scenario missed-event --variant ${variant} --workload ${workload} --seed ${o.seed}${o.count !== undefined ? ` --count ${o.count}` : ''}`;
    const drv = makeDriver(host, o);
    const { tr } = drv;
    const con = () => host.console(1) ?? '';
    let verdict: Verdict | undefined;
    /** Stalls the guest recovered from (an unrelated timer's demux rescued the port), with the explanation taken when it was suspected. */
    const stalls: { verdict: Verdict; explanations: Explanation[]; dump: string }[] = [];
    const namer = defaultNamer(host.hv, (d, p) => host.portDevice(d, p));
    let explanations: Explanation[] = [];
    let pingOutput = '';
    /** Run until `cond`, a hang the verdict confirms, or `limit`; recovered stalls are noted and run through. */
    const runUntil = (cond: () => boolean, limit: number): 'ok' | 'limit' | 'hang' | 'crash' => {
      const end = host.sim.now + limit;
      for (;;) {
        if (cond()) return 'ok';
        const d = host.hv.domain(1);
        if (!d || d.shutdownReason !== undefined) return 'crash';
        if (host.sim.now >= end) return 'limit';
        const r = host.sim.run({ until: Math.min(end, host.sim.now + 10 * MS), maxSteps: 5_000_000 });
        if (r.reason !== 'hang') continue;
        // Explain now: running on to the timer may rescue the port and erase the state.
        const pre = explainHang(host.hv, namer);
        const preDump = host.hv.debugKey('e');
        const v = decideHang(host.sim, host.hv, r.hang);
        if (v.outcome === 'recovered') {
          stalls.push({ verdict: v, explanations: pre, dump: preDump });
          tr.note(`stall at t=${(v.suspectedAt / S).toFixed(6)} s: ${pre[0]?.title ?? r.hang.summary}; ${v.detail}`);
          continue;
        }
        verdict = v;
        // Still stuck after its timer: explain the state now (the timer's own step included).
        const post = explainHang(host.hv, namer);
        explanations = post.length > 0 ? post : pre;
        return 'hang';
      }
    };
    let outcome = 'ok';
    const finish = (what: string) => {
      outcome = what;
    };
    try {
      tr.step('boot', `boot the Mirage-like guest (${KERNEL}) with runtime variant ${variant}`);
      host.files.set('mirage.cfg', `name = "mirage"\nkernel = "${KERNEL}"\nmemory = 32\nvif = [ 'mac=00:16:3e:00:00:02,bridge=xenbr0' ]\nextra = "ip=${GUEST_IP} netmask=255.255.255.0"\n`);
      await host.buildKernelFile(KERNEL);
      drv.xl('create mirage.cfg');
      const up = runUntil(() => /ping: .* on .* \(port \d+\)/.test(con()), 10 * S);
      tr.check('netfront connected and the stack is up', up === 'ok', up === 'hang' ? 'hung during netfront bring-up' : up);
      if (up !== 'ok') {
        finish(up === 'hang' ? verdict!.outcome : up === 'limit' ? 'timeout' : 'crash');
        throw new StopScenario('boot');
      }
      drv.stop('boot');

      tr.step('workload', workload === 'netfront-setup' ? 'one ping through the new vif' : workload === 'ping-flood' ? `ping -f -c ${count} ${GUEST_IP} from dom0` : `${count} commands through the guest's xenstore watch`);
      const k = host.kernel!;
      let done = false;
      let code = -1;
      if (workload === 'xenstore') {
        let acked = 0;
        for (let i = 1; i <= count; i++) {
          host.run(() => host.xs.write(0, '/local/domain/1/data/command', `c${i}`), 'xenstore-write');
          const want = `ack ${i}: c${i}`;
          const r = runUntil(() => host.xsd.store.get('/local/domain/1/data/reply') !== undefined && new TextDecoder().decode(host.xsd.store.get('/local/domain/1/data/reply')!.value) === want, 2 * S);
          if (r !== 'ok') {
            finish(r === 'hang' ? verdict!.outcome : r === 'limit' ? 'timeout' : 'crash');
            break;
          }
          acked = i;
        }
        tr.check(`every command answered (${acked}/${count})`, acked === count);
      } else {
        const argv = workload === 'ping-flood' ? ['-f', '-q', '-c', String(count), GUEST_IP] : ['-c', '1', GUEST_IP];
        const po = parsePing(argv);
        if (!('target' in po)) throw new Error(`ping ${argv.join(' ')}: ${po.stderr}`);
        new SimThread(host.sim, host.allocUserPid(), 'ping', function* () {
          code = yield* ping(host.sim, k.inet, po, 0, (s) => (pingOutput += s), (s) => (pingOutput += s));
          done = true;
        }, ['entry_SYSCALL_64']);
        const r = runUntil(() => done, 600 * S);
        if (r !== 'ok') finish(r === 'hang' ? verdict!.outcome : r === 'limit' ? 'timeout' : 'crash');
        tr.cmd(`ping ${argv.join(' ')}`, { stdout: pingOutput, stderr: '' });
        tr.check('ping: every echo answered', done && code === 0 && / 0% packet loss/.test(pingOutput), pingOutput.split('\n').find((l) => l.includes('packet loss')) ?? (done ? `exit ${code}` : 'ping did not finish'));
      }
      drv.stop('workload');
    } catch (e) {
      if (!(e instanceof StopScenario)) throw e;
    }
    let dump = host.hv.debugKey('e');
    if (outcome === 'ok' && stalls.length > 0) {
      // Deaf until an unrelated timer's demux scanned the port's word: a real
      // bug even though the run went on (the report's "random places").
      outcome = 'stall';
      verdict = stalls[0]!.verdict;
      explanations = stalls[0]!.explanations;
      dump = stalls[0]!.dump; // the state while it was stuck
    }
    tr.step('verdict', outcome === 'ok' ? 'no hang' : outcome === 'hang' ? 'the guest hung' : outcome === 'stall' ? `the guest stalled until a timer rescued it${stalls.length > 1 ? ` (${stalls.length} times)` : ''}` : outcome === 'timeout' ? 'the workload did not finish in time' : 'the guest crashed');
    const portLines = dump.split('\n').map((l) => l.replace(/^\(XEN\) /, '')).filter((_, i, a) => {
      const start = a.findIndex((x) => x.startsWith('Event channel information for domain 1:'));
      const next = a.findIndex((x, j) => j > start && x.startsWith('Event channel information for domain'));
      return start >= 0 && i > start + 2 && (next < 0 || i < next);
    }).filter((l) => /^\s+\d+ \[/.test(l));
    if (outcome === 'hang' || outcome === 'stall') {
      if (host.sim.trace.enabled) markHang(host, verdict!.detail);
      drv.sh('xl debug-keys e; xl dmesg', dump);
      tr.note(`${outcome}: ${verdict!.detail}`);
      for (const e of explanations) tr.note(formatExplanation(e, outcome === 'stall' ? 'stalled' : 'hung'));
    }
    tr.check('the guest never hangs', outcome === 'ok', outcome === 'ok' ? '' : `${outcome}${verdict ? `: ${verdict.detail}` : ''}`);
    const failures = tr.failures;
    return {
      name: missedEvent.name, options: o, transcript: tr, host, ok: failures.length === 0, failures, replay,
      outcome, verdict, explanations, dump, portLines, pingOutput,
    };
  },
};
