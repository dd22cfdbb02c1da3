#!/usr/bin/env node
// Runs every test/**/*.test.ts with uvu (through tsx) and prints the one line
// CI reads: "N passed, N failed, N skipped".
//
// Why a wrapper: uvu's summary has no "Failed" line, and a throwing before()
// hook is swallowed by uvu's runner (Total 1, Passed 0, exit code 0). Failed
// is therefore computed as Total - Passed, and a group that prints no summary
// at all (a crash, an import error, "Exiting early") counts as one failure.
//
// The tests run as one uvu process per folder of test/ (two at a time, the
// machine has two cores), so a folder that fails to load cannot hide the
// results of the others.
//
// Usage: npm test [-- PATTERN]   (PATTERN: a regexp on the path below test/)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const testDir = path.join(root, 'test');
const pattern = new RegExp(process.argv[2] ?? '\\.test\\.ts$');
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');

/** test files below `dir`, relative to test/ */
function files(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.test.ts')) out.push(path.relative(testDir, p));
  }
  return out;
}
const selected = files(testDir).filter((f) => pattern.test(f));
const groups = new Map();
for (const f of selected) {
  const g = path.dirname(f);
  if (!groups.has(g)) groups.set(g, []);
  groups.get(g).push(f);
}

function runGroup(group, list) {
  const escaped = list.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = `^(${escaped.join('|')})$`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--stack-size=4000', uvu, 'test', re, '--no-color'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('close', (code) => {
      const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
      const num = (label) => {
        const m = plain.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'));
        return m ? Number(m[1]) : undefined;
      };
      const total = num('Total');
      const passed = num('Passed') ?? 0;
      const skipped = num('Skipped') ?? 0;
      let failed = total === undefined ? 1 : total - passed;
      if (failed === 0 && code !== 0) failed = 1;
      process.stdout.write(`\n== test/${group} (${list.length} files): ${passed} passed, ${failed} failed\n${plain}`);
      resolve({ passed, failed, skipped });
    });
  });
}

const queue = [...groups.entries()];
const results = [];
const workers = Array.from({ length: Math.min(2, os.cpus().length, queue.length) || 1 }, async () => {
  for (let next = queue.shift(); next; next = queue.shift()) results.push(await runGroup(...next));
});
await Promise.all(workers);
const sum = (k) => results.reduce((a, r) => a + r[k], 0);
const failed = sum('failed') + (selected.length === 0 ? 1 : 0);
if (selected.length === 0) console.log(`no test file matches ${pattern}`);
console.log(`${sum('passed')} passed, ${failed} failed, ${sum('skipped')} skipped`);
process.exit(failed > 0 ? 1 : 0);
