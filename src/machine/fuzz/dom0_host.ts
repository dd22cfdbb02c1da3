// The dom0 side the ring fuzzers (netif.ts, blkif.ts) drive guests against:
// the hypervisor, xenstored, dom0's kernel, and a synchronous dom0 xenstore
// client playing libxl's part.
import { XS_TRANSACTION_END, XS_TRANSACTION_START, XS_WRITE, XS_RM } from '../../abi/xs_wire.ts';
import { Dom0Kernel } from '../../dom0/kernel/kernel.ts';
import { attachDom0Events } from '../../dom0/kernel/events.ts';
import { Xenstored } from '../../dom0/xenstored/xenstored.ts';
import { decodeReply, encodeRequest } from '../../dom0/xenstored/local.ts';
import { Sim } from '../../sim/index.ts';
import { Hypervisor } from '../../xen/index.ts';

/** dom0's kernel (netback, blkback, the bridge) on a hypervisor and xenstored, with libxl's xenstore writes and hotplug by hand. */
export function dom0Host(seed: number) {
  const sim = new Sim({ seed });
  const hv = new Hypervisor(sim, { hangOracle: false });
  const dom0 = hv.createDomain({ domid: 0, name: 'Domain-0', memKiB: 64 << 10, vcpus: 1, host: true });
  const xs = new Xenstored();
  const conn = xs.connectLocal();
  let last: ReturnType<typeof decodeReply> | undefined;
  conn.onMessage = (f) => {
    const r = decodeReply(f);
    if (r.type !== 15) last = r;
  };
  const req = (type: number, args: string[], raw?: string, txId = 0) => {
    last = undefined;
    conn.send(encodeRequest(type, args, { raw, txId }));
    if (!last) throw new Error('fuzz: no xenstore reply');
    return last as ReturnType<typeof decodeReply>;
  };
  /** Several writes in one transaction (libxl's style). */
  const tx = (pairs: Record<string, string>) => {
    const id = Number(req(XS_TRANSACTION_START, ['']).strings![0]);
    for (const [k, v] of Object.entries(pairs)) req(XS_WRITE, [k], v, id);
    req(XS_TRANSACTION_END, ['T'], undefined, id);
  };
  const read = (p: string) => {
    const r = req(2, [p]);
    return r.error ? undefined : r.text;
  };
  const k = new Dom0Kernel({ sim, dom0: attachDom0Events(dom0), xenstored: xs, hv }, {});
  k.start();
  sim.runUntil(() => k.ready);
  const run = (cond: () => boolean, ns: number) => sim.runUntil(cond, { until: sim.now + ns });
  const hotplug = (be: string, kind: 'vif' | 'vbd' = 'vif') => {
    let done = false;
    k.kthreads.run('hotplug', 'hotplug', function* () {
      yield* k.hotplug('online', kind, be);
      done = true;
    });
    run(() => done, 1e9);
  };
  const rm = (p: string) => req(XS_RM, [p]);
  /** What broke on the host so far: the first oops of dom0's kernel or internal error of the hypervisor. */
  const healthy = (): string | undefined => {
    if (k.oopses.length > 0) return `oops: ${k.oopses[0]!.split('\n')[0]}`;
    if (hv.internalErrors.length > 0) return `hypervisor: ${hv.internalErrors[0]!.split('\n')[0]}`;
    return undefined;
  };
  /**
   * xl destroy's part: the domain goes, then its device directories `fe` and
   * `be` (forced removal); then up to 2 s of virtual time for dom0's backend
   * to unmap the domain's grants. Returns how many dom0 still maps.
   */
  const destroy = (domid: number, fe: string, be: string): number => {
    hv.destroyDomain(domid);
    xs.run(() => xs.domainDied(domid));
    rm(fe);
    rm(be);
    run(() => dom0.gnttab.handlesOf(domid).length === 0, 2e9);
    return dom0.gnttab.handlesOf(domid).length;
  };
  return { sim, hv, dom0, xs, k, tx, read, rm, run, hotplug, healthy, destroy };
}

export type Host = ReturnType<typeof dom0Host>;
