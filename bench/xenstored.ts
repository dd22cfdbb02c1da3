// xenstored benchmark: our daemon against the real Xen 4.17 cxenstored and
// oxenstored (--no-access-log), same clients, same run, each test on a fresh
// daemon. Clients are the anchors kit's programs:
//   xsbench   - libxenstore sequential write/read ops/s, and raw-socket
//               pipelined (32 in flight) write/read ops/s;
//   domcreate - LightVM-style domain creation (35 requests per domain incl.
//               XS_INTRODUCE), ms/domain at the 1st, 100th, 500th, 1000th.
// Our daemon runs as a child process (src/cli/xenstored.ts bundled once with
// esbuild, node DAEMON_FLAGS), so client and server are separate processes like
// the references. The daemons come from scripts/setup-peers.sh
// (test/support/anchor_kit.ts); the C clients from $XENODE_BENCH_CLIENTS, else
// the anchors kit's build folder (XS_BENCHBIN of its env file). Without either,
// one note row.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type BenchOptions, type BenchRow } from './lib.ts';
import { kitEnv, startRef as startRefDaemon } from '../test/support/anchor_kit.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

type DaemonKind = 'ours' | 'cxenstored' | 'oxenstored';
interface Running {
  socket: string;
  stop(): Promise<void>;
}

/** Node flags of our daemon: fewer scavenges, no GC helper-thread wake-ups on a small machine. */
const DAEMON_FLAGS = ['--max-semi-space-size=32', '--single-threaded-gc'];
let bundled: string | undefined;

/**
 * Our daemon bundled once per bench run with esbuild to a plain .mjs in a temp
 * dir, so it runs like the references: no tsx loader (and its hooks thread).
 */
async function bundle(): Promise<string> {
  if (bundled) return bundled;
  const { build } = await import('esbuild');
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'xsbench-bundle-')), 'xenstored.mjs');
  await build({ entryPoints: [path.join(root, 'src/cli/xenstored.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'warning' });
  process.once('exit', () => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
  return (bundled = out);
}

async function startOurs(dir: string): Promise<Running> {
  const socket = path.join(dir, 'socket');
  const child: ChildProcess = spawn(process.execPath, [...DAEMON_FLAGS, await bundle(), '--socket', socket], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b) => {
      out += b;
      if (out.includes(socket)) resolve();
    });
    child.once('exit', (c) => reject(new Error(`xenode xenstored exited with ${c}`)));
  });
  return {
    socket,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function startRef(kind: 'cxenstored' | 'oxenstored'): Promise<Running> {
  const d = await startRefDaemon(kind, kind === 'oxenstored' ? ['--no-access-log'] : []);
  if (typeof d === 'string') throw new Error(d);
  return d;
}

/** The folder of the anchors kit's C clients (xsbench, domcreate), if built. */
function clientsDir(): string | undefined {
  if (process.env.XENODE_BENCH_CLIENTS) return process.env.XENODE_BENCH_CLIENTS;
  const f = path.join(process.env.XS_ANCHOR_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'xs-anchor/xen-4.17'), 'env');
  const m = fs.existsSync(f) ? /^XS_BENCHBIN=(.*)$/m.exec(fs.readFileSync(f, 'utf8')) : null;
  return m ? m[1]!.replace(/^["']|["']$/g, '') : undefined;
}

/** Runs `cmd` against a fresh daemon of `kind`; returns its stdout. */
async function fresh(kind: DaemonKind, cmd: string[]): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `xsbench-${kind}-`));
  const d = kind === 'ours' ? await startOurs(dir) : await startRef(kind);
  try {
    // Async spawn: our daemon is a child of this process and must keep running.
    return await new Promise<string>((resolve, reject) => {
      const c = spawn(cmd[0]!, cmd.slice(1), { env: { ...process.env, XENSTORED_PATH: d.socket }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (b) => (out += b));
      c.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd[0]!)} exited ${code}: ${out}`))));
    });
  } finally {
    await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function parseXsbench(out: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const m = /^(libxenstore sequential|raw pipelined \(depth 32\)) (write|read)\s.*median\s+(\d+)/.exec(line);
    if (m) r[`${m[1]!.startsWith('raw') ? 'pipelined' : 'sequential'} ${m[2]}`] = Number(m[3]);
  }
  return r;
}

function parseDomcreate(out: string): Record<number, number> {
  const r: Record<number, number> = {};
  for (const m of out.matchAll(/^at domain\s+(\d+):\s+([\d.]+) ms\/domain/gm)) r[Number(m[1])] = Number(m[2]);
  return r;
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const bin = clientsDir();
  const group = 'xenstored';
  if (!kitEnv() || !bin) {
    const note = 'reference daemons (scripts/setup-peers.sh) or C clients ($XENODE_BENCH_CLIENTS) missing: reference comparison skipped';
    console.error(`bench xenstored: ${note}`);
    return [{ group, name: 'skipped', value: 0, unit: '', note }];
  }
  const ops = opts.quick ? 5000 : 20000;
  const runs = 3;
  const domains = opts.quick ? 200 : 1000;
  const kinds: DaemonKind[] = ['ours', 'cxenstored', 'oxenstored'];
  const xs: Partial<Record<DaemonKind, Record<string, number>>> = {};
  const dc: Partial<Record<DaemonKind, Record<number, number>>> = {};
  const notes: string[] = [];
  // The machine is shared and noisy: interleave the daemons round by round
  // (each round a fresh daemon and one xsbench run) and take medians.
  const samples: Partial<Record<DaemonKind, Record<string, number[]>>> = {};
  for (let r = 0; r < runs; r++) {
    for (const k of kinds) {
      try {
        const got = parseXsbench(await fresh(k, [path.join(bin, 'xsbench'), '-n', String(ops), '-r', '1']));
        const s = (samples[k] ??= {});
        for (const [name, v] of Object.entries(got)) (s[name] ??= []).push(v);
      } catch (e) {
        notes.push(`${k} xsbench: ${(e as Error).message}`);
      }
    }
  }
  for (const k of kinds) {
    const s = samples[k];
    if (!s) continue;
    xs[k] = Object.fromEntries(Object.entries(s).map(([name, vs]) => [name, Math.round(median(vs))]));
  }
  for (const k of kinds) {
    try {
      dc[k] = parseDomcreate(await fresh(k, [path.join(bin, 'domcreate'), '-n', String(domains)]));
    } catch (e) {
      notes.push(`${k} domcreate: ${(e as Error).message}`);
    }
  }
  const rows: BenchRow[] = [];
  for (const name of ['sequential write', 'sequential read', 'pipelined write', 'pipelined read']) {
    const v = xs.ours?.[name];
    const c = xs.cxenstored?.[name];
    const o = xs.oxenstored?.[name];
    if (v === undefined) continue;
    rows.push({
      group, name: `${name} (xsbench -n ${ops}, median of ${runs} interleaved runs)`, value: v, unit: 'ops/s', anchor: 'cxenstored 4.17', anchorValue: c,
      ratio: c ? v / c : undefined, target: '>= 1.0x cxenstored', note: o ? `oxenstored --no-access-log: ${o} ops/s (${(v / o).toFixed(2)}x)` : undefined,
    });
  }
  const points = [1, 100, 500, 1000].filter((n) => n <= domains);
  for (const n of points) {
    const v = dc.ours?.[n];
    if (v === undefined) continue;
    const c = dc.cxenstored?.[n];
    const o = dc.oxenstored?.[n];
    rows.push({
      group, name: `domcreate ms/domain at #${n}`, value: v, unit: 'ms', anchor: 'cxenstored 4.17', anchorValue: c,
      ratio: c ? c / v : undefined,
      target: n === domains ? `flat: <= 1.5x of #1 (${dc.ours?.[1]?.toFixed(2)} ms)` : undefined,
      note: `ratio = cxenstored / ours (higher is better)${o !== undefined ? `; oxenstored ${o} ms` : ''}`,
    });
  }
  const last = dc.ours?.[points[points.length - 1]!];
  const first = dc.ours?.[1];
  if (last !== undefined && first !== undefined) {
    // Flatness: the last point against the steady state (the 1st domain also pays JIT warm-up).
    const ref = Math.max(first, dc.ours?.[100] ?? first);
    rows.push({ group, name: 'domcreate flatness (last / max(#1, #100))', value: last / ref, unit: 'x', target: '<= 1.5' });
  }
  for (const n of notes) rows.push({ group, name: 'error', value: 0, unit: '', note: n });
  return rows;
}
