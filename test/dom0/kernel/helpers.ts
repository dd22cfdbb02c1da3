// Shared test scaffolding for the dom0 kernel tests: a sim, the real xenstored,
// a synchronous "toolstack" xenstore client, and a way to run coroutines on
// throwaway kernel threads.

import { Sim, type Co } from '../../../src/sim/index.ts';
import { Xenstored } from '../../../src/dom0/xenstored/xenstored.ts';
import { decodeReply, encodeRequest } from '../../../src/dom0/xenstored/local.ts';
import {
  XS_DIRECTORY, XS_MKDIR, XS_READ, XS_RM, XS_TRANSACTION_END, XS_TRANSACTION_START, XS_WRITE,
} from '../../../src/abi/xs_wire.ts';
import { Kthreads, type Kthread } from '../../../src/dom0/kernel/kthread.ts';

/** A synchronous xenstore client, like xenstore-* tools or libxl on a socket. */
export class Tool {
  private last: ReturnType<typeof decodeReply> | undefined;
  readonly conn;
  constructor(xs: Xenstored) {
    this.conn = xs.connectLocal();
    this.conn.onMessage = (f: Uint8Array) => {
      const r = decodeReply(f);
      if (r.type !== 15) this.last = r;
    };
  }
  private req(type: number, args: string[], raw?: string, txId = 0) {
    this.last = undefined;
    this.conn.send(encodeRequest(type, args, { raw, txId }));
    const r = this.last!;
    if (!r) throw new Error('no reply');
    return r;
  }
  write(path: string, value: string, tx = 0): void {
    const r = this.req(XS_WRITE, [path], value, tx);
    if (r.error) throw new Error(`write ${path}: ${r.error}`);
  }
  read(path: string): string | undefined {
    const r = this.req(XS_READ, [path]);
    return r.error ? undefined : r.text;
  }
  mkdir(path: string): void {
    this.req(XS_MKDIR, [path]);
  }
  rm(path: string): void {
    this.req(XS_RM, [path]);
  }
  dir(path: string): string[] {
    const r = this.req(XS_DIRECTORY, [path]);
    return r.error ? [] : r.strings ?? [];
  }
  /** Several writes in one transaction (libxl's style). */
  tx(pairs: Record<string, string>): void {
    const s = this.req(XS_TRANSACTION_START, ['']);
    const id = Number(s.strings![0]);
    for (const [k, v] of Object.entries(pairs)) this.write(k, v, id);
    const e = this.req(XS_TRANSACTION_END, ['T'], undefined, id);
    if (e.error) throw new Error(`tx: ${e.error}`);
  }
}

export function world(seed = 1) {
  const sim = new Sim({ seed });
  const xs = new Xenstored();
  const tool = new Tool(xs);
  const kthreads = new Kthreads(sim);
  return { sim, xs, tool, kthreads };
}

export interface Spawned {
  kt: Kthread;
  readonly done: boolean;
  readonly error: unknown;
  result: unknown;
}

/** Run `body` on a new kernel thread (named like a kworker). */
export function spawn(kthreads: Kthreads, name: string, body: () => Co<unknown>): Spawned {
  const box = { done: false, error: undefined as unknown, result: undefined as unknown };
  const kt = kthreads.run(name, name.replace(/\W/g, '_'), function* () {
    try {
      box.result = yield* body();
    } catch (e) {
      box.error = e;
    }
    box.done = true;
  });
  return {
    kt,
    get done() { return box.done; },
    get error() { return box.error; },
    get result() { return box.result; },
    set result(v) { box.result = v; },
  };
}

/** Run the sim until cond or idle; fails loudly on a thrown error. */
export function settle(sim: Sim, cond: () => boolean = () => false, limitNs = 600e9): boolean {
  return sim.runUntil(cond, { until: sim.now + limitNs });
}
