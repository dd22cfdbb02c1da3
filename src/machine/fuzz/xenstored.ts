// Fuzz targets for xenstored's wire, one frame at a time so that every
// reply is attributed to its frame:
//
//   xs-ring   an unprivileged guest (domain 5) writes frames into its ring
//             page and kicks; hostile indices and garbage included;
//   xs-socket a privileged client on a real unix socket (the daemon listens
//             in a temporary directory), over a small path vocabulary.
//
// Invariants checked after every frame: the daemon logged no internal error;
// a frame answered with XS_ERROR left the whole store as it was (same node
// objects: a failed request changes nothing); a guest's frame left every node
// outside its home as it was; dom0 still reads its probe node (every 64 frames and at
// the end); the store stays within its vocabulary's size (memory bounded).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  XS_ERROR, XS_INTRODUCE, XS_RELEASE, XS_RING_ERROR, XS_RING_REQ, XS_RING_REQ_CONS, XS_RING_REQ_PROD, XS_RING_RSP, XS_RING_RSP_CONS,
  XS_RING_RSP_PROD, XS_TRANSACTION_START, XS_WATCH_EVENT, XsFrameReader, XsRing, encodeMessage, latin1, type XsMessage,
} from '../../abi/xs_wire.ts';
import { Xenstored } from '../../dom0/xenstored/xenstored.ts';
import { listenUnix } from '../../dom0/xenstored/socket.ts';
import type { XsNode } from '../../dom0/xenstored/tree/store.ts';
import { Choices } from '../../sim/index.ts';
import { garbageFrame, randomFrame } from './frames.ts';
import type { FuzzBudget, FuzzResult } from './types.ts';

const GUEST = 5;
const HOME = `/local/domain/${GUEST}`;
/** The store may hold the initial tree, the guest's home (its node quota) and the vocabulary's nodes: far below this. */
const MAX_NODES = 2000;

export const XS_INVARIANTS = [
  'daemon alive: no internal error, dom0 reads its probe node (outside the vocabulary)',
  'a frame answered with an error changes no node',
  "a guest's frame changes no node outside its home",
  `store bounded (< ${MAX_NODES} nodes)`,
];

type Snapshot = Map<string, XsNode>;
const snap = (d: Xenstored): Snapshot => new Map(d.store.nodes);

/** The first path whose node differs (added, removed or replaced), if any. */
function changed(d: Xenstored, before: Snapshot, filter: (p: string) => boolean = () => true): string | undefined {
  for (const [p, n] of d.store.nodes) if (filter(p) && before.get(p) !== n) return p;
  for (const p of before.keys()) if (filter(p) && !d.store.nodes.has(p)) return p;
  return undefined;
}

/** A daemon with a probe node outside the fuzz vocabulary, a privileged local probe, and a log of internal errors. */
function daemon(mapRing?: ConstructorParameters<typeof Xenstored>[0] extends infer O ? O extends { mapRing?: infer M } ? M : never : never) {
  const internal: string[] = [];
  const d = new Xenstored({ mapRing, log: (m) => void (m.includes('internal error') && internal.push(m)) });
  const probe = d.connectLocal();
  let last: XsMessage | undefined;
  probe.onMessage = (f) => {
    const r = new XsFrameReader();
    r.push(f);
    const m = r.next();
    if (m && m.type !== XS_WATCH_EVENT) last = { ...m, payload: m.payload.slice() };
  };
  const ask = (type: number, p: string): string => {
    last = undefined;
    probe.send(encodeMessage(type, 1, 0, p));
    const m = last as XsMessage | undefined;
    if (!m) return '<none>';
    const text = latin1(m.payload, 0, m.payload.length);
    return m.type === XS_ERROR ? `ERR:${text.replace(/\0$/, '')}` : text;
  };
  ask(11, '/xenode-fuzz-probe\0k');
  const alive = (): string | undefined => {
    if (internal.length > 0) return internal[0]!.split('\n')[0];
    const v = ask(2, '/xenode-fuzz-probe\0');
    return v === 'k' ? undefined : `dom0 reads /xenode-fuzz-probe as ${JSON.stringify(v)}`;
  };
  return { d, ask, alive, internal };
}

/** xs-ring: domain 5's ring, one frame per kick. */
export function fuzzXsRing(seed: number, budget: FuzzBudget): FuzzResult {
  const r = Choices.derive(seed, 'fuzz xs-ring');
  let page = new ArrayBuffer(4096);
  const { d, ask, alive } = daemon(() => ({ page, notify: () => {} }));
  let ring = new XsRing(page);
  let reader = new XsFrameReader();
  const txIds: number[] = [];
  let reintroduced = 0;
  const introduce = () => {
    page = new ArrayBuffer(4096);
    ring = new XsRing(page);
    reader = new XsFrameReader();
    txIds.length = 0;
    if (d.domains.get(GUEST)) ask(XS_RELEASE, `${GUEST}\0`);
    ask(12, `${HOME}\0`);
    ask(14, `${HOME}\0n${GUEST}\0r0\0`);
    const v = ask(XS_INTRODUCE, `${GUEST}\0${1000 + GUEST}\0${1}\0`);
    if (v !== 'OK\0') throw new Error(`fuzz: introduce ${GUEST}: ${v}`);
  };
  introduce();
  const t0 = performance.now();
  let frames = 0;
  const fail = (msg: string): FuzzResult => ({ target: 'xs-ring', frames, seconds: (performance.now() - t0) / 1000, invariants: XS_INVARIANTS, failure: msg, notes: [`rings re-introduced after PROTO: ${reintroduced}`] });
  while (frames < budget.count && performance.now() - t0 < budget.seconds * 1000) {
    const k = r.choose(20);
    const bytes = k === 0 ? garbageFrame(r) : randomFrame(r, { txIds });
    const before = snap(d);
    // Hostile indices now and then: a producer far ahead of the consumer.
    if (k === 1) ring.set(XS_RING_REQ_PROD, ring.get(XS_RING_REQ_PROD) + 2048 + r.choose(1 << 20));
    else ring.write(XS_RING_REQ, XS_RING_REQ_PROD, XS_RING_REQ_CONS, bytes);
    d.kick(GUEST);
    frames++;
    let errorReply = false;
    for (;;) {
      const b = ring.read(XS_RING_RSP, XS_RING_RSP_PROD, XS_RING_RSP_CONS);
      if (!b || b.length === 0) break;
      reader.push(b);
      d.kick(GUEST);
    }
    for (let m = reader.next(); m; m = reader.next()) {
      if (m.type === XS_ERROR) errorReply = true;
      if (m.type === XS_TRANSACTION_START) {
        const id = Number(latin1(m.payload, 0, m.payload.length).replace(/\0$/, ''));
        if (Number.isInteger(id) && id > 0 && txIds.push(id) > 8) txIds.shift();
      }
    }
    const outside = changed(d, before, (p) => p !== HOME && !p.startsWith(HOME + '/'));
    if (outside) return fail(`frame ${frames}: a guest frame changed ${outside}`);
    if (errorReply) {
      const any = changed(d, before);
      if (any) return fail(`frame ${frames}: answered with an error but changed ${any}`);
    }
    if (d.store.nodes.size >= MAX_NODES) return fail(`frame ${frames}: ${d.store.nodes.size} nodes`);
    if (frames % 64 === 0 || reader.broken) {
      const bad = alive();
      if (bad) return fail(`frame ${frames}: ${bad}`);
    }
    // A PROTO error (the daemon ignores the ring from then on) or a broken
    // reply stream: a new ring, as a rebooted guest would get.
    if (ring.get(XS_RING_ERROR) !== 0 || reader.broken || r.oneIn(500)) {
      reintroduced++;
      introduce();
    }
  }
  const bad = alive();
  if (bad) return fail(`end: ${bad}`);
  return { target: 'xs-ring', frames, seconds: (performance.now() - t0) / 1000, invariants: XS_INVARIANTS, notes: [`rings re-introduced after PROTO (or at random): ${reintroduced}`] };
}

/** xs-socket: a privileged client on a real unix socket, one frame per round trip. */
export async function fuzzXsSocket(seed: number, budget: FuzzBudget): Promise<FuzzResult> {
  const r = Choices.derive(seed, 'fuzz xs-socket');
  const { d, alive } = daemon();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenode-fuzz-'));
  const server = await listenUnix(d, path.join(dir, 'socket'));
  const t0 = performance.now();
  let frames = 0;
  let reconnects = 0;
  const txIds: number[] = [];
  let sock: net.Socket | undefined;
  let reader = new XsFrameReader();
  let waiter: ((m: XsMessage | 'closed') => void) | undefined;
  const connect = async () => {
    sock?.destroy();
    reader = new XsFrameReader();
    txIds.length = 0;
    const s = net.createConnection(server.path);
    await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
    s.on('data', (c: Buffer) => {
      reader.push(c);
      for (let m = reader.next(); m; m = reader.next()) {
        if (m.type === XS_WATCH_EVENT) continue;
        const w = waiter;
        waiter = undefined;
        w?.({ ...m, payload: m.payload.slice() });
      }
    });
    s.on('close', () => {
      const w = waiter;
      waiter = undefined;
      w?.('closed');
    });
    s.on('error', () => {});
    sock = s;
  };
  await connect();
  let failure: string | undefined;
  try {
    while (frames < budget.count && performance.now() - t0 < budget.seconds * 1000) {
      // INTRODUCE/RELEASE make the fuzzer a toolstack for random domains: left to xs-ring's guest.
      const bytes = randomFrame(r, { txIds, exclude: new Set([XS_INTRODUCE, XS_RELEASE]) });
      const before = snap(d);
      const reply = await new Promise<XsMessage | 'closed' | 'timeout'>((res) => {
        const timer = setTimeout(() => res('timeout'), 2000);
        waiter = (m) => {
          clearTimeout(timer);
          res(m);
        };
        sock!.write(bytes);
      });
      frames++;
      if (reply === 'timeout') {
        failure = `frame ${frames}: no reply within 2 s`;
        break;
      }
      if (reply === 'closed') {
        reconnects++;
        await connect();
      } else {
        if (reply.type === XS_ERROR) {
          const any = changed(d, before);
          if (any) {
            failure = `frame ${frames}: answered with an error but changed ${any}`;
            break;
          }
        }
        if (reply.type === XS_TRANSACTION_START) {
          const id = Number(latin1(reply.payload, 0, reply.payload.length).replace(/\0$/, ''));
          if (Number.isInteger(id) && id > 0 && txIds.push(id) > 8) txIds.shift();
        }
      }
      if (d.store.nodes.size >= MAX_NODES) {
        failure = `frame ${frames}: ${d.store.nodes.size} nodes`;
        break;
      }
      if (frames % 64 === 0) {
        const bad = alive();
        if (bad) {
          failure = `frame ${frames}: ${bad}`;
          break;
        }
      }
    }
    if (!failure) failure = alive();
  } finally {
    sock?.destroy();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { target: 'xs-socket', frames, seconds: (performance.now() - t0) / 1000, invariants: XS_INVARIANTS.filter((i) => !i.includes('guest')), ...(failure ? { failure } : {}), notes: [`reconnects after the daemon closed the connection: ${reconnects}`] };
}
