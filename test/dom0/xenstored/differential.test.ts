// Differential tests: the same request sequences against our daemon and the
// real cxenstored (Xen 4.17, started with the anchors kit), replies compared
// byte for byte, watch events included. Deliberate deviations (README.md
// table) are simply not exercised here, or normalised (DIRECTORY_PART's
// generation number is an internal counter).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Xenstored } from '../../../src/dom0/xenstored/xenstored.ts';
import { listenUnix, type SocketServer } from '../../../src/dom0/xenstored/socket.ts';
import { RawClient } from './rawclient.ts';
import { encodeMessage } from '../../../src/abi/xs_wire.ts';
import { needs, refMissing, startRef, timed, type RefDaemon } from './kit.ts';
import type { Msg } from './helpers.ts';

type Step = [conn: number, type: number, payload: string, tx?: number];

interface Ctx {
  ref?: RefDaemon;
  ours?: SocketServer;
  dir?: string;
}
const D = suite<Ctx>('differential vs cxenstored', {});
const missingRef = refMissing();
const withRef = needs(D, missingRef);

D.before(async (ctx) => {
  if (missingRef) return;
  const ref = await startRef('cxenstored');
  // Set up but not starting is a failure, not a skip (uvu swallows a throwing
  // before hook, so every test then fails on the missing daemon).
  if (typeof ref === 'string') return void console.error(ref);
  ctx.ref = ref;
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xsours-'));
  ctx.ours = await listenUnix(new Xenstored(), path.join(ctx.dir, 'socket'));
});

D.after(async (ctx) => {
  await ctx.ref?.stop();
  await ctx.ours?.close();
  if (ctx.dir) fs.rmSync(ctx.dir, { recursive: true, force: true });
});

function norm(type: number, ms: Msg[]): string[] {
  return ms.map((m) => {
    let p = m.p;
    if (type === 22 && m.type === 22) p = p.replace(/^\d+\0/, 'G\0');
    return `${m.type}/${m.reqId}/${m.txId}:${JSON.stringify(p)}`;
  });
}

/** Runs steps on n fresh connections; returns a transcript (replies + events seen by every connection after each step). */
async function play(sock: string, steps: Step[], nconn = 2): Promise<string[]> {
  const cs: RawClient[] = [];
  for (let i = 0; i < nconn; i++) cs.push(await RawClient.connect(sock));
  const out: string[] = [];
  for (const [ci, type, payload, tx] of steps) {
    const got = await cs[ci]!.req(type, payload, tx ?? 0);
    out.push(`c${ci} ${type} ${JSON.stringify(payload)} -> ${norm(type, got).join(' | ')}`);
    // Barrier: a cheap request on every other connection brings its pending events.
    for (let j = 0; j < cs.length; j++) {
      if (j === ci || cs[j]!.closed) continue;
      const b = await cs[j]!.req(10, '0\0');
      if (b.length > 1) out.push(`  c${j} events: ${norm(-1, b.slice(0, -1)).join(' | ')}`);
    }
  }
  for (const c of cs) c.close();
  return out;
}

async function compare(ctx: Ctx, steps: Step[], nconn = 2): Promise<void> {
  if (!ctx.ref || !ctx.ours) throw new Error('reference cxenstored did not start (see the log above)');
  const theirs = await play(ctx.ref!.socket, steps, nconn);
  const ours = await play(ctx.ours!.path, steps, nconn);
  assert.equal(ours, theirs);
}

const W = 11, R = 2, DIR = 1, MK = 12, RM = 13, SP = 14, GP = 3, WA = 4, UW = 5, TS = 6, TE = 7, DP = 22;

const SEQUENCES: Record<string, Step[]> = {
  'basic read/write/dir/rm/mkdir': [
    [0, W, '/d1/a/b\0hello'], [0, R, '/d1/a/b\0'], [0, R, '/d1/a\0'], [0, DIR, '/d1\0'], [0, DIR, '/d1/a/b\0'],
    [0, MK, '/d1/a\0'], [0, MK, '/d1/m/n\0'], [0, W, '/d1/e\0'], [0, R, '/d1/e\0'], [0, W, '/d1/nul\0a\0b\0'],
    [0, R, '/d1/nul\0'], [0, RM, '/d1/a\0'], [0, R, '/d1/a/b\0'], [0, RM, '/d1/zz\0'], [0, RM, '/d1/zz/yy\0'],
    [0, DIR, '/d1\0'], [0, RM, '/d1\0'], [0, R, '/d1\0'],
  ],
  'path rules': [
    [0, W, '/d2//x\0v'], [0, W, '/d2/x/\0v'], [0, W, '/d2/x y\0v'], [0, W, '/d2/x.y\0v'], [0, W, '\0v'],
    [0, W, 'rel/x\0v'], [0, R, '/local/domain/0/rel/x\0'], [0, R, 'rel/x\0'], [0, W, '/d2/ok-_@9\0v'],
    [0, R, '/\0'], [0, GP, '/\0'], [0, RM, '/\0'], [0, R, '@foo\0'], [0, GP, '@introduceDomain\0'],
    [0, W, '/d2/' + 'a'.repeat(2046) + '\0v'], [0, W, '/d2/' + 'a'.repeat(2045) + '\0v'],
    [0, W, '/local/domain/7/' + 'b'.repeat(2048) + '\0v'], [0, W, '/local/domain/7/' + 'b'.repeat(2049) + '\0v'],
    [0, RM, '/local/domain/7\0'], [0, RM, 'rel\0'], [0, RM, '/d2\0'],
  ],
  'malformed arguments': [
    // onearg() failures (e.g. MKDIR '/d3\0extra\0') are not here: cxenstored answers them with a stale
    // errno (ENOMEM, ENOENT, ...) and after some sequences dies; ours says EINVAL (README, deviations).
    [0, W, '/d3/nonul'],
    [0, TE, 'X\0'], [0, TE, 'T\0'], [0, TE, 'T\0', 99], [0, R, '/\0', 5], [0, W, '/d3/x\0v', 3],
    [0, 15, 'x\0'], [0, 16, 'x\0'], [0, 20, ''], [0, 23, ''], [0, 99, ''], [0, 0, 'bogus\0'], [0, 0, 'check\0'],
    [0, 0, 'help\0'], [0, 0, 'quota\0'], [0, 0, 'log\0'], [0, 10, '5\0'], [0, 10, 'abc\0'], [0, 10, '\0'],
    [0, 10, '-1\0'], [0, 10, ''], [0, 17, '0\0'], [0, 17, '32753\0'], [0, 17, '5\0'], [0, 9, '0\0'], [0, 9, '77\0'],
    [0, 19, '3\0'], [0, 19, '3\x004\0'], [0, 18, '0\0'], [0, 8, '1\x002\0'], [0, 8, '5\x001\x000\0'],
  ],
  'permissions as dom0': [
    [0, W, '/d4/a\0v'], [0, SP, '/d4/a\0n0\0r5\0b7\0'], [0, GP, '/d4/a\0'], [0, W, '/d4/a/child\0c'],
    [0, GP, '/d4/a/child\0'], [0, SP, '/d4/a\0x0\0'], [0, SP, '/d4/a\0'], [0, SP, '/d4/a\0r\0'], [0, SP, '/d4/a\0r0x\0'],
    [0, SP, '/d4/a\0n70000\0'], [0, SP, '/d4/a\0n0\0r0x10\0w010\0'], [0, GP, '/d4/a\0'], [0, SP, '/d4/nope\0n0\0'],
    [0, SP, '@introduceDomain\0n0\0r5\0'], [0, SP, '@bogus\0n0\0'], [0, SP, '/d4/a\0n1\0r2\0r3\0r4\0r5\0r6\0r7\0'],
    [0, GP, '/d4/a\0'], [0, RM, '/d4\0'],
  ],
  watches: [
    [0, WA, '/d5\0tok\0'], [1, WA, '/d5/a\0t2\0'], [1, WA, '/\0root\0'], [0, W, '/d5/a/b\0v'], [1, W, '/d5/a\0v'],
    [0, WA, '/d5\0tok\0'], [0, WA, '/d5\0tok2\0'], [0, W, '/d5\0x'], [0, WA, 'relw\0rt\0'], [1, W, '/local/domain/0/relw/z\0x'],
    [0, WA, '/d5/deep/x/y\0deep\0'], [0, W, '/d5/deep/x/y/z\0v'], [1, RM, '/d5/deep\0'], [0, UW, '/d5\0tok\0'],
    [0, UW, '/d5\0tok\0'], [0, UW, '//bad\0t\0'], [0, UW, '\0t\0'], [0, UW, '/d5\0'], [0, WA, '\0t\0'], [0, WA, '//x\0t\0'], [0, WA, '/d5\0a\0b\0'], [0, WA, '/d5\0'], [0, WA, '@introduceDomain\0i\0'],
    [0, WA, '@releaseDomain\0r\0'], [0, WA, '@other\0o\0'], [0, W, '/d5/sp ace\0v'], [0, WA, '/d5\0to ken\0'],
    [1, W, '/d5/q\0v'], [0, 21, ''], [1, W, '/d5/q\0w'], [0, WA, '/d5\0again\0', 7], [1, RM, '/d5\0'],
    [1, RM, '/local/domain/0/relw\0'],
  ],
  'transactions (cxenstored conflict rule)': [
    [0, W, '/d6/a\0old'], [0, TS, '\0'], [0, R, '/d6/a\0', 1], [1, W, '/d6/a\0new'], [0, R, '/d6/a\0', 1],
    [0, W, '/d6/b\0x', 1], [0, TE, 'T\0', 1], [0, R, '/d6/b\0'],
    // Blind creation conflicts with a sibling created outside (implicit parent read).
    [0, TS, '\0'], [0, W, '/d6/c1\0x', 2], [1, W, '/d6/c2\0y'], [0, TE, 'T\0', 2],
    // Non-conflicting: reads see own writes; commit fires events before the reply.
    [1, WA, '/d6\0w\0'], [0, TS, '\0'], [0, W, '/d6/t/u\0v', 3], [0, R, '/d6/t/u\0', 3], [0, DIR, '/d6\0', 3],
    [0, R, '/d6/t/u\0'], [0, TS, '\0', 3], [0, RM, '/d6/a\0', 3], [0, W, '/d6/t/u\0w', 3], [0, TE, 'T\0', 3],
    [0, R, '/d6/t/u\0'], [0, TE, 'T\0', 3], [0, TS, '\0'], [0, W, '/d6/z\0v', 4], [0, TE, 'F\0', 4], [0, R, '/d6/z\0'],
    [0, TS, '\0'], [0, TS, '\0'], [0, 21, ''], [0, TE, 'F\0', 5], [0, TS, '\0'], [0, RM, '/d6\0'],
  ],
  // README row 14: a node absent before and after the transaction (created then deleted,
  // implicit parents included) fires nothing at commit, nor does its parent; re-created fires.
  'transactions: nodes created and deleted inside fire nothing': [
    [1, WA, '/d8\0wp\0'], [1, WA, '/d8/n\0wn\0'], [1, WA, '/d8/n/m\0wm\0'], [1, WA, '/\0wr\0'], [0, W, '/d8\0x'],
    [0, TS, '\0'], [0, W, '/d8/n\0v', 1], [0, RM, '/d8/n\0', 1], [0, TE, 'T\0', 1],
    [0, TS, '\0'], [0, W, '/d8/n\0v', 2], [0, RM, '/d8/n\0', 2], [0, W, '/d8/n\0w', 2], [0, TE, 'T\0', 2],
    [0, TS, '\0'], [0, W, '/d8/n/m\0v', 3], [0, RM, '/d8/n\0', 3], [0, TE, 'T\0', 3],
    [0, TS, '\0'], [0, MK, '/d8/k\0', 4], [0, SP, '/d8/k\0n0\0r1\0', 4], [0, RM, '/d8/k\0', 4], [0, TE, 'T\0', 4],
    [0, TS, '\0'], [0, W, '/d9/a/b\0v', 5], [0, RM, '/d9\0', 5], [0, TE, 'T\0', 5],
    [0, TS, '\0'], [0, RM, '/d8/n\0', 6], [0, W, '/d8/n\0v', 6], [0, TE, 'T\0', 6],
    [0, TS, '\0'], [0, W, '/d8/n/q\0v', 7], [0, RM, '/d8/n/q\0', 7], [0, TE, 'T\0', 7],
    [0, RM, '/d8\0'],
  ],
  'directory_part': [
    ...Array.from({ length: 30 }, (_, i): Step => [0, MK, `/d7/${'n'.repeat(120)}${i}\0`]),
    [0, DIR, '/d7\0'], [0, DP, '/d7\x000\0'], [0, DP, '/d7\x003\0'], [0, DP, '/d7\x003000\0'], [0, DP, '/d7\x009999\0'],
    [0, DP, '/d7\0-1\0'], [0, DP, '/d7\0'], [0, DP, '/d7\x000\0x\0'], [0, DP, '/nope\x000\0'],
    ...Array.from({ length: 10 }, (_, i): Step => [0, MK, `/d7/${'m'.repeat(120)}${i}\0`]),
    [0, DIR, '/d7\0'], [0, DP, '/d7\x000\0'], [0, DP, '/d7\x004000\0'], [0, RM, '/d7\0'],
  ],
};

for (const [name, steps] of Object.entries(SEQUENCES)) {
  withRef(name, timed(async (ctx) => {
    await compare(ctx, steps);
  }));
}

withRef('randomised sequences (fast-check, fixed seed)', timed(async (ctx) => {
  const paths = ['/r', '/r/a', '/r/a/b', '/r/c', 'rel', 'rel/x', '/r/a/b/c/d'];
  const p = fc.constantFrom(...paths);
  const conn = fc.nat(1);
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.tuple(conn, fc.constant(W), p, fc.constantFrom('', 'v', 'value2')).map(([c, t, x, v]): Step => [c, t, `${x}\0${v}`]),
    fc.tuple(conn, fc.constantFrom(R, DIR, MK, RM, GP), p).map(([c, t, x]): Step => [c, t, `${x}\0`]),
    fc.tuple(conn, p, fc.constantFrom('n0', 'r0', 'n0\0r3', 'b0\0w5')).map(([c, x, perms]): Step => [c, SP, `${x}\0${perms}\0`]),
    fc.tuple(conn, fc.constantFrom(WA, UW), p, fc.constantFrom('t1', 't2')).map(([c, t, x, k]): Step => [c, t, `${x}\0${k}\0`]),
    fc.tuple(conn).map(([c]): Step => [c, TS, '\0']),
    fc.tuple(conn, fc.constantFrom('T', 'F'), fc.nat({ max: 2 })).map(([c, a, t]): Step => [c, TE, `${a}\0`, t]),
    fc.tuple(conn, fc.constantFrom(W, R, RM, DIR, MK, GP), p, fc.integer({ min: 1, max: 2 })).map(([c, t, x, tx]): Step =>
      [c, t, t === W ? `${x}\0tx` : `${x}\0`, tx]),
    fc.tuple(conn, p, fc.constantFrom('n0', 'b0\0r7'), fc.integer({ min: 1, max: 2 })).map(([c, x, perms, tx]): Step => [c, SP, `${x}\0${perms}\0`, tx]),
    fc.tuple(conn, p, fc.constantFrom('0', '2', '100')).map(([c, x, off]): Step => [c, DP, `${x}\0${off}\0`]),
  );
  const samples = fc.sample(fc.array(step, { minLength: 5, maxLength: 25 }), { seed: 1234, numRuns: 100 });
  for (const steps of samples) {
    const cleanup: Step[] = [[0, 21, ''], [1, 21, ''], [0, RM, '/r\0'], [0, RM, '/local/domain/0/rel\0']];
    await compare(ctx, [...steps, ...cleanup]);
  }
}));

/** Malformed payloads: empty, no NUL, extra arguments, bytes outside ASCII, over-long, relative. */
const ONEARG = new Set([DIR, R, GP, MK, RM]);
const MALFORMED = ['', 'x', '\0', '\0\0', '/m\0', '/m', '/m\0b\0c\0d\0', '/m\0\0\0', '\xff\xfe\0', 'rel\0', '//m\0', '@x\0', '1\0', '7\x003\0', `/${'a'.repeat(3000)}\0`];

withRef('malformed payloads for every message type (socket)', timed(async (ctx) => {
  const steps: Step[] = [[0, W, '/m\0v']];
  for (let type = 0; type < 26; type++) {
    for (const p of MALFORMED) {
      // README row 1: a single-argument request that is not exactly one
      // NUL-terminated string gets a stale errno from cxenstored, which then
      // dies (observed here on RM "/m"); ours says EINVAL. Not compared.
      if (ONEARG.has(type) && !/^[^\0]*\0$/.test(p)) continue;
      steps.push([0, type, p]);
    }
  }
  steps.push([0, 21, ''], [0, RM, '/m\0'], [0, RM, '/local/domain/0/rel\0']);
  await compare(ctx, steps);
}));

/** Sends every frame in one write on a fresh connection; returns the replies and events, normalised. */
async function pipelined(sock: string, frames: Array<[number, string]>): Promise<string[]> {
  const c = await RawClient.connect(sock);
  const bytes = frames.map(([t, p], i) => encodeMessage(t, i, 0, Uint8Array.from(p, (ch) => ch.charCodeAt(0))));
  c.sendRaw(Buffer.concat(bytes));
  const got = await c.replies(frames.length);
  c.close();
  return norm(-1, got);
}

// No watch here: cxenstored writes at most one message per poll iteration
// (write_messages) while it reads one request per iteration, so under a
// pipelined burst its backlog grows and identical watch events in it are
// dropped (send_event) in a pattern set by that pacing. We apply the same
// rule to what is staged in one batch; the counts differ, the replies do not.
withRef('many requests queued at once on a socket (one write of 400 frames, malformed ones among them)', timed(async (ctx) => {
  if (!ctx.ref || !ctx.ours) throw new Error('reference cxenstored did not start (see the log above)');
  const frames: Array<[number, string]> = [];
  for (let i = 0; i < 400; i++) {
    const k = `/q/k${i % 37}`;
    if (i % 5 === 0) frames.push([W, `${k}\0v${i}`]);
    else if (i % 5 === 1) frames.push([R, `${k}\0`]);
    else if (i % 5 === 2) frames.push([MALFORMED_TYPES[i % MALFORMED_TYPES.length]!, MALFORMED[i % MALFORMED.length]!]);
    else if (i % 5 === 3) frames.push([DIR, '/q\0']);
    else frames.push([RM, `${k}\0`]);
  }
  frames.push([RM, '/q\0']);
  assert.equal(await pipelined(ctx.ours.path, frames), await pipelined(ctx.ref.socket, frames));
}));
/** Types whose malformed payloads both daemons answer alike (README row 1 excluded). */
const MALFORMED_TYPES = [0, 4, 5, 7, 8, 9, 10, 11, 14, 15, 17, 18, 19, 20, 22, 23, 99];

D.run();
