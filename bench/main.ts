// `npm run bench [-- --quick] [--full] [--json] [--only GROUP]`: runs every benchmark
// module and prints one table. Benchmarks are never tests: nothing here asserts.
import { parseArgs } from 'node:util';
import os from 'node:os';
import type { BenchOptions, BenchRow } from './lib.ts';

const modules: Record<string, string> = {
  hypervisor: './hypervisor.ts',
  guest: './guest.ts',
  xenstored: './xenstored.ts',
  dom0: './dom0.ts',
  net: './net.ts',
  explore: './explore.ts',
  scale: './scale.ts',
};

let values;
try {
  ({ values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
    },
  }));
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(2);
}
// A misspelt group is a wrong command line, not an empty table.
if (values.only !== undefined && !(values.only in modules)) {
  console.error(`bench: no group '${values.only}' (groups: ${Object.keys(modules).join(', ')})`);
  process.exit(2);
}
const opts: BenchOptions = { quick: values.quick ?? false, full: values.full ?? false };
const rows: BenchRow[] = [];
for (const [group, path] of Object.entries(modules)) {
  if (values.only && values.only !== group) continue;
  let mod: { run(o: BenchOptions): Promise<BenchRow[]> };
  try {
    mod = await import(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') continue;
    throw e;
  }
  process.stderr.write(`bench: ${group}...\n`);
  rows.push(...(await mod.run(opts)));
}
const machine = `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
if (values.json) {
  console.log(JSON.stringify({ machine, rows }, null, 2));
} else {
  const fmt = (v: number | undefined) =>
    v === undefined ? '' : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3);
  const table = rows.map((r) => [
    r.group, r.name, fmt(r.value), r.unit, r.anchor ?? '', fmt(r.anchorValue), r.ratio === undefined ? '' : r.ratio.toFixed(2) + 'x', r.target ?? '',
  ]);
  const head = ['group', 'benchmark', 'value', 'unit', 'anchor', 'anchor value', 'ratio', 'target'];
  const w = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 || i === 5 || i === 6 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ');
  console.log(`machine: ${machine}`);
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const t of table) console.log(line(t));
  for (const r of rows) if (r.note) console.log(`note: ${r.group}/${r.name}: ${r.note}`);
}
