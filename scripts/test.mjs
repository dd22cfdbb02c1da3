#!/usr/bin/env node
// Runs every test/**/*.test.ts with uvu (through tsx) and prints the one line
// CI reads: "N passed, N failed, N skipped".
//
// Why a wrapper: uvu's summary has no "Failed" line, and a throwing before()
// hook is swallowed by uvu's runner (Total 1, Passed 0, exit code 0). Failed
// is therefore computed as Total - Passed, and a run that prints no summary at
// all (a crash, "Exiting early") counts as one failure.
//
// Usage: npm test [-- PATTERN]   (PATTERN: a regexp on the file path)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const pattern = process.argv[2] ?? '\\.test\\.ts$';
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');
const child = spawn(process.execPath, ['--import', 'tsx', '--stack-size=4000', uvu, 'test', pattern, '--no-color'], {
  cwd: root,
  env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
  process.stdout.write(chunk);
});
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
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed > 0 ? 1 : 0);
});
