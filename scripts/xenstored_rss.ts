// Peak RSS (VmHWM) of a xenstore daemon while one watcher never reads and a
// writer does N writes (256 pipelined at a time) to P distinct nodes: the
// figure issue 11 asks for (idle watcher, 1 M writes), ours against Xen's
// cxenstored (scripts/setup-peers.sh). Not a test and not in npm run bench:
// it takes a minute.
//   node --import tsx scripts/xenstored_rss.ts ours|cxenstored|CHECKOUT [N] [P]
// CHECKOUT: another checkout of this repository (its src/cli/xenstored.ts is
// bundled and measured, e.g. main for a before/after).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startRef } from '../test/support/anchor_kit.ts';
import { RawClient } from '../test/dom0/xenstored/rawclient.ts';
import { encodeMessage } from '../src/abi/xs_wire.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const [kind = 'ours', nArg = '1000000', pathsArg = '1'] = process.argv.slice(2);
const N = Number(nArg), P = Number(pathsArg);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rss-'));
let pid: number, sock: string, stop: () => Promise<void>;
if (kind === 'cxenstored') {
  const r = await startRef('cxenstored');
  if (typeof r === 'string') throw new Error(r);
  pid = r.pid; sock = r.socket; stop = r.stop;
} else {
  const src = path.join(kind === 'ours' ? root : path.resolve(kind), 'src/cli/xenstored.ts');
  const out = path.join(dir, 'xs.mjs');
  await build({ entryPoints: [src], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'error' });
  sock = path.join(dir, 'socket');
  const c = spawn(process.execPath, ['--max-semi-space-size=32', '--single-threaded-gc', out, '--socket', sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => c.stdout!.on('data', (b) => String(b).includes(sock) && r()));
  pid = c.pid!;
  stop = async () => void c.kill('SIGTERM');
}
const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const w = net.connect(sock);
await new Promise((r) => w.once('connect', r));
w.write(encodeMessage(4, 1, 0, '/w\0tok\0'));
await new Promise((r) => setTimeout(r, 200));
w.pause();
const start = rss();
const c = await RawClient.connect(sock);
const t0 = Date.now();
const depth = 256;
for (let i = 0; i < N; i += depth) {
  const batch: Uint8Array[] = [];
  for (let j = i; j < Math.min(N, i + depth); j++) batch.push(encodeMessage(11, j, 0, `/w/k${j % P}\0v${j}`));
  c.sendRaw(Buffer.concat(batch));
  await c.replies(batch.length);
}
const secs = (Date.now() - t0) / 1000;
console.log(`${kind}: ${N} writes to ${P} path(s) in ${secs.toFixed(1)} s (${Math.round(N / secs)}/s), idle watcher: RSS ${start.toFixed(1)} -> ${rss().toFixed(1)} MB, peak ${hwm().toFixed(1)} MB`);
c.close(); w.destroy(); await stop();
fs.rmSync(dir, { recursive: true, force: true });
process.exit(0);
