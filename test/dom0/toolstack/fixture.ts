// Test fixture: the real xenstored and Libxl, a fake hypervisor (domains are
// records), and an optional scripted backend that answers like a healthy
// netback/blkback (1 → 2 on probe, 5 → 6 on close).
import { Sim, SimThread, type Co } from '../../../src/sim/index.ts';
import { Xenstored } from '../../../src/dom0/xenstored/xenstored.ts';
import { encodeRequest } from '../../../src/dom0/xenstored/local.ts';
import { XS_WATCH, XS_WRITE, XS_READ, splitStrings, decodeMessage, XS_WATCH_EVENT, latin1 } from '../../../src/abi/xs_wire.ts';
import { Libxenstore } from '../../../src/dom0/toolstack/xs.ts';
import { runThread } from '../../../src/dom0/toolstack/run.ts';
import { Libxl, type SpawnPort, type LibxlOptions } from '../../../src/dom0/toolstack/libxl.ts';
import type { DomInfo, XcInterface } from '../../../src/dom0/toolstack/xc.ts';
import type { DomainConfig } from '../../../src/dom0/toolstack/cfg.ts';

export class FakeHv implements XcInterface {
  doms = new Map<number, DomInfo & { name: string }>();
  /** domids that stay dying after destroy (grants still mapped). */
  pinned = new Set<number>();
  calls: string[] = [];
  constructor() {
    this.doms.set(0, { domid: 0, name: 'Domain-0', memKiB: 2048 * 1024, outstandingKiB: 0, vcpus: 4, running: true, blocked: false, paused: false, shutdown: false, shutdownReason: 0, dying: false, cpuTimeNs: 1e9 });
  }
  xc_domain_getinfolist() { return [...this.doms.values()]; }
  xc_domain_ids() { return [...this.doms.keys()].sort((a, b) => a - b); }
  xc_domain_count() { return this.doms.size; }
  xc_domain_getinfo(d: number) { return this.doms.get(d); }
  xc_domain_create(domid: number, cfg: DomainConfig, _uuid?: string) {
    this.calls.push(`create ${domid}`);
    this.doms.set(domid, { domid, name: cfg.name, memKiB: cfg.memory * 1024, outstandingKiB: 0, vcpus: cfg.vcpus, running: false, blocked: false, paused: true, shutdown: false, shutdownReason: 0, dying: false, cpuTimeNs: 0 });
  }
  *xc_dom_build(domid: number): Co<{ storeGfn: number; storePort: number }> {
    this.calls.push(`build ${domid}`);
    return { storeGfn: 0xfeffc, storePort: 1 };
  }
  xc_domain_unpause(d: number) { this.calls.push(`unpause ${d}`); const x = this.doms.get(d); if (x) { x.paused = false; x.blocked = true; } }
  xc_domain_pause(d: number) { this.calls.push(`pause ${d}`); const x = this.doms.get(d); if (x) { x.paused = true; x.blocked = false; } }
  xc_domain_destroy(d: number): number {
    this.calls.push(`destroy ${d}`);
    const x = this.doms.get(d);
    if (!x) return -3; // -ESRCH
    if (this.pinned.has(d)) { x.dying = true; x.memKiB = 0; } else this.doms.delete(d);
    return 0;
  }
}

export const okSpawn: SpawnPort = {
  *hotplug() { return 0; },
};

export interface Fixture {
  sim: Sim;
  xsd: Xenstored;
  xs: Libxenstore;
  hv: FakeHv;
  libxl: Libxl;
  run<T>(co: () => Co<T>): T;
  read(path: string): string | undefined;
  dump(prefix: string): string[];
}

export function makeFixture(opts: { backend?: boolean; libxl?: LibxlOptions; seed?: number } = {}): Fixture {
  const sim = new Sim({ seed: opts.seed ?? 1 });
  const xsd = new Xenstored();
  const conn = xsd.connectLocal();
  const xs = new Libxenstore({ send: (f) => conn.send(f), set onFrame(cb) { conn.onMessage = cb; }, get onFrame() { return conn.onMessage; } });
  const hv = new FakeHv();
  const libxl = new Libxl(sim, xs, hv, okSpawn, opts.libxl ?? {});
  const raw = xsd.connectLocal();
  const read = (path: string): string | undefined => {
    let v: string | undefined;
    raw.onMessage = (f) => { const m = decodeMessage(f); if (m.type === XS_READ) v = latin1(m.payload, 0, m.payload.length); };
    raw.send(encodeRequest(XS_READ, [path]));
    return v;
  };
  if (opts.backend) {
    // A healthy backend: state 1 → 2 (probe), 5 → 6 (close), serviced from a sim
    // thread so the answer comes "later", as from a real xenwatch.
    const be = xsd.connectLocal();
    const todo: string[] = [];
    const t = new SimThread(sim, 99, 'fake-backend', function* () {
      for (;;) {
        while (todo.length) {
          const path = todo.shift()!;
          const s = read(path);
          if (s === '1') raw.send(encodeRequest(XS_WRITE, [path], { raw: '2' }));
          if (s === '5') raw.send(encodeRequest(XS_WRITE, [path], { raw: '6' }));
        }
        yield { kind: 'block', state: 'S' } as const;
      }
    });
    be.onMessage = (f) => {
      const m = decodeMessage(f);
      if (m.type !== XS_WATCH_EVENT) return;
      const [path] = splitStrings(m.payload) ?? [];
      if (!path || !path.endsWith('/state')) return;
      todo.push(path);
      t.wake();
    };
    be.send(encodeRequest(XS_WATCH, ['/local/domain/0/backend', 'be']));
  }
  const dumpAll = (prefix: string): string[] => {
    const out: string[] = [];
    for (const [p, n] of xsd.store.nodes) if (p === prefix || p.startsWith(prefix + '/')) out.push(`${p}=${latin1(n.value, 0, n.value.length)}`);
    return out.sort();
  };
  const fx: Fixture = {
    sim, xsd, xs, hv, libxl, read, dump: dumpAll,
    run<T>(co: () => Co<T>): T {
      let result: T | undefined;
      return runThread(sim, co);
    },
  };
  return fx;
}
