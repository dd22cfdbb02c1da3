// The README's commands, pasted into a fresh shell in order: each ```sh block
// runs as one bash script (job control on, as in a terminal, so `kill %1`
// reaches the background job's whole process group, npx's child included)
// from the repository's root. Left out: blocks marked ```sh long or ```sh
// illustrative (package installs, the test suite itself, sharding with GNU
// parallel, placeholders), and lines whose comment starts with `# long:`.
// Every command must exit 0 or 1 (1: the hangs and failures the README
// shows on purpose), never print a stack trace; the block's output must
// show what the README's comments claim for the pinned cases. Files the
// commands write into the root (hello.json, hang.html) are removed after.
// Slow by nature (each command starts Node, type-checks and builds kernels:
// two to three minutes on two cores), so the blocks run under CI=true (.ci/run)
// or XENODE_README=1 and are a skip otherwise; what is quick always runs:
// every block parses (bash -n) and names only commands `xenode help` lists.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../src/machine/kernels.ts';
import { needs, timed, which } from '../dom0/xenstored/kit.ts';

interface Block {
  /** The fence's words after `sh` (long, illustrative). */
  tags: string[];
  script: string;
  /** 1-based line of the fence in README.md. */
  line: number;
}

export function shellBlocks(md: string): Block[] {
  const out: Block[] = [];
  for (const m of md.matchAll(/^```sh([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const script = m[2]!
      .split('\n')
      .filter((l) => !/#\s*long:/.test(l))
      .join('\n');
    out.push({ tags: m[1]!.trim().split(/\s+/).filter(Boolean), script, line: md.slice(0, m.index).split('\n').length });
  }
  return out;
}

function run(script: string, ms: number): Promise<{ out: string; err: string; code: number | null; signal: string | null; secs: number }> {
  // ERR reports every failing command with its status (conditions of until/if/&& are exempt, as they should be).
  const prelude = `set -m\ntrap 'echo "readme-test: exit $? from: $BASH_COMMAND" >&2' ERR\n`;
  return new Promise((resolve) => {
    const t0 = performance.now();
    // The last command's status is not the block's (the README's last line may be a hang on purpose): the ERR lines are.
    const sh = spawn('bash', ['--noprofile', '--norc', '-c', `${prelude}${script}\ntrue\n`], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    sh.stdout.on('data', (b: Buffer) => (out += b));
    sh.stderr.on('data', (b: Buffer) => (err += b));
    const killer = setTimeout(() => sh.kill('SIGKILL'), ms);
    sh.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ out, err, code, signal, secs: (performance.now() - t0) / 1000 });
    });
  });
}

const md = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const blocks = shellBlocks(md);
const t = suite('README.md: the shell blocks, in order, in a fresh shell');

t('the blocks the test leaves out are marked, and the marker is explained', () => {
  assert.ok(blocks.length >= 4);
  for (const b of blocks) for (const tag of b.tags) assert.ok(['long', 'illustrative'].includes(tag), `README.md:${b.line}: unknown tag ${tag}`);
  assert.match(md, /lines marked `# long:` and blocks marked `long` or `illustrative`/);
});

t('every block parses, and names only commands xenode has', () => {
  const help = spawnSync(process.execPath, [path.join(ROOT, 'bin/xenode.mjs'), 'help'], { encoding: 'utf8', timeout: 30_000 }).stdout;
  const known = new Set([...help.matchAll(/^  (\S+) /gm)].map((m) => m[1]!));
  assert.ok(known.has('xl') && known.has('scenario'), help);
  for (const b of blocks) {
    const syntax = spawnSync('bash', ['-n'], { input: b.script, encoding: 'utf8' });
    assert.is(syntax.status, 0, `README.md:${b.line}: ${syntax.stderr}`);
    for (const m of b.script.matchAll(/npx xenode ([\w-]+)/g)) assert.ok(known.has(m[1]!), `README.md:${b.line}: xenode ${m[1]} is not a command`);
  }
});

/** What the README's comments claim, checked in the block's output. */
const claims: [RegExp, RegExp][] = [
  [/--workload netfront-setup --seed 1\b/, /1 \[1\/0\/1\][\s\S]*2 \[1\/1\/1\][\s\S]*3 \[1\/0\/1\]/],
  [/xenstored --socket \/tmp\/xs\.sock/, /^tool = ""$/m],
  [/--xenstore-socket \/tmp\/host\.sock/, /^0 = ""\n backend = "\/local\/domain\/0\/backend\/vif\/1\/0"$/m],
  [/--xenstore-socket \/tmp\/host\.sock/, /^4$/m],
];

const usesXenstore = (s: string) => /\bxenstore-\w+/.test(s);
const runnable = blocks.filter((b) => b.tags.length === 0);
const missing = runnable.some((b) => usesXenstore(b.script)) && !which('xenstore-ls') ? 'xenstore-utils (apt-get install xenstore-utils)' : undefined;
const full = process.env.CI === 'true' || process.env.XENODE_README === '1';

for (const b of runnable) {
  const name = `README.md:${b.line} runs`;
  if (!full) {
    console.log(`  skipping "${name}": minutes long; XENODE_README=1 (or CI=true) runs it`);
    t.skip(name);
    continue;
  }
  const reg = usesXenstore(b.script) ? needs(t, missing) : t;
  reg(name, timed(async () => {
    const before = new Set(readdirSync(ROOT));
    const r = await run(b.script, 590_000);
    for (const f of readdirSync(ROOT)) if (!before.has(f) && statSync(path.join(ROOT, f)).isFile()) rmSync(path.join(ROOT, f));
    const where = `README.md:${b.line}\n--- stderr ---\n${r.err.slice(-3000)}`;
    assert.is(r.code, 0, `the shell ended with ${r.code ?? r.signal} after ${r.secs.toFixed(1)} s: ${where}`);
    const failed = [...r.err.matchAll(/^readme-test: exit (\d+) from: ([\s\S]*?)$/gm)].map((m) => [Number(m[1]), m[2]] as const);
    for (const [code, cmd] of failed) assert.ok(code === 1, `exit ${code} from: ${cmd}\n${where}`);
    assert.not.match(r.out + r.err, /\n\s+at [\w.<>]+ \(|command not found|Error \[ERR_/, where);
    for (const [cmd, claim] of claims) if (cmd.test(b.script)) assert.match(r.out, claim, `${claim} (${where})`);
  }, 600_000));
}

t.run();
