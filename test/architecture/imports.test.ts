// The layering of src/, enforced (docs/architecture.md explains it):
//
//   cli > machine > dom0 > xen > sim > abi, lib        guest beside, only abi and lib below it
//
// - src/guest is bundled into every kernel (esbuild, one IIFE per domain): it
//   may import only src/abi and src/lib, and of the packages only rxjs. As in
//   Solo5, the in-guest bindings and the host-side tenders are different trees.
// - src/abi is Xen's public headers as TypeScript: it imports nothing of ours.
// - src/xen is the hypervisor: abi, sim and lib only; it knows no dom0 internals.
// - dom0 reaches the hypervisor only through its public entry src/xen/index.ts.
// - nothing imports upward, and no two files import each other's values in a
//   cycle (a run-time cycle makes module initialisation order matter).
// - no file in src/ is over 400 lines, except the allow-list below (each with
//   the reason one concept needs the length).
// - each exported name is defined once in src/ (a listed few pairs excepted).
// - kernels/*.ts are written as a kernel author writes one: they import only
//   the package's public entries (package.json "exports") and rxjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cycles, importGraph, specifiers } from './graph.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const g = importGraph(ROOT, 'src');

/** the layer of a src/ file: its first folder below src/ */
const layer = (f: string): string => f.split('/')[1]!;

/** rank of each layer; an import must go to a lower rank or stay in its own layer */
const RANK: Record<string, number> = { lib: 0, abi: 0, sim: 1, xen: 2, dom0: 3, machine: 4, cli: 5 };

/** what each layer may import besides itself (src/ layers, and bare packages) */
const ALLOWED: Record<string, { layers: string[]; packages: RegExp }> = {
  lib: { layers: [], packages: /^$/ },
  abi: { layers: [], packages: /^$/ },
  guest: { layers: ['abi', 'lib'], packages: /^rxjs$/ },
  sim: { layers: ['lib'], packages: /^$/ },
  xen: { layers: ['abi', 'sim', 'lib'], packages: /^$/ },
  dom0: { layers: ['abi', 'sim', 'lib', 'xen'], packages: /^node:/ },
  machine: { layers: ['abi', 'sim', 'lib', 'xen', 'dom0'], packages: /^(node:|esbuild$)/ },
  cli: { layers: ['abi', 'sim', 'lib', 'xen', 'dom0', 'machine'], packages: /^node:/ },
};

/** Files over 400 lines, each with why one concept needs the length (STYLE.md: small files). */
const LONG_FILES: Record<string, string> = {
  'src/xen/evtchn.ts': "Xen's 2L rules and event_channel.c's ops on one channel table, with the FIFO seam and the flight recorder's hooks",
  'src/xen/vcpu.ts': "the vCPU's upstream step order (IF, STI shadow, LAPIC, hlt) with the recorder's hooks; the upcall delivery could move out",
  'src/dom0/toolstack/cfg.ts': "xl.cfg's grammar and every key's parser: one format, one file",
};

test('the scanner reads every import form', () => {
  const text = [
    "import { a,",
    "  b } from './one.ts';",
    "import type { T } from './two.ts';",
    "export { c } from './three.ts';",
    "export * from './four.ts';",
    "import './five.ts';",
    "// import { x } from './commented.ts';",
    "/* import { y } from './block.ts'; */",
    "const m = await import('./six.ts');",
    "const e = `a guest kernel may not import '${p}'`;",
  ].join('\n');
  assert.equal(
    specifiers(text).map((s) => `${s.spec}${s.typeOnly ? ' (type)' : ''}`),
    ['./one.ts', './two.ts (type)', './three.ts', './four.ts', './five.ts', './six.ts'],
  );
  assert.ok(g.files.length > 50, `scanned ${g.files.length} files under src/`);
});

test('every relative import names a file that exists', () => {
  const missing: string[] = [];
  for (const [f, to] of g.edges) for (const t of to) if (!g.edges.has(t)) missing.push(`${f} -> ${t}`);
  assert.equal(missing, []);
});

test('each layer imports only the layers below it (guest: only abi and lib)', () => {
  const bad: string[] = [];
  for (const [f, to] of g.edges) {
    const from = layer(f);
    const rule = ALLOWED[from];
    if (rule === undefined) {
      bad.push(`${f}: src/${from} is not a known layer (add it to ALLOWED and docs/architecture.md)`);
      continue;
    }
    for (const t of to) {
      const target = layer(t);
      if (target !== from && !rule.layers.includes(target)) bad.push(`${f} -> ${t} (src/${from} may not import src/${target})`);
    }
    for (const p of g.external.get(f) ?? []) if (!rule.packages.test(p)) bad.push(`${f} -> '${p}' (src/${from} may not import this package)`);
  }
  assert.equal(bad, []);
});

test('nothing imports upward (cli > machine > dom0 > xen > sim > abi, lib)', () => {
  const up: string[] = [];
  for (const [f, to] of g.edges) {
    for (const t of to) {
      const a = RANK[layer(f)];
      const b = RANK[layer(t)];
      if (a !== undefined && b !== undefined && b > a) up.push(`${f} -> ${t}`);
    }
  }
  assert.equal(up, []);
});

test('src/guest is imported only by src/guest', () => {
  const out: string[] = [];
  for (const [f, to] of g.edges) for (const t of to) if (layer(t) === 'guest' && layer(f) !== 'guest') out.push(`${f} -> ${t}`);
  assert.equal(out, []);
});

test('dom0 reaches the hypervisor only through src/xen/index.ts', () => {
  const inside: string[] = [];
  for (const [f, to] of g.edges) {
    if (layer(f) !== 'dom0') continue;
    for (const t of to) if (layer(t) === 'xen' && t !== 'src/xen/index.ts') inside.push(`${f} -> ${t}`);
  }
  assert.equal(inside, []);
});

test('no run-time import cycles between files', () => {
  assert.equal(cycles(g.files, g.valueEdges), []);
});

test('type-only import cycles are only the known mutual references', () => {
  // `import type` is erased, so these cost nothing at run time; they are the
  // object graph itself (a Domain owns its vCPUs, event channels and grant
  // table, each of which names its Domain; a xenstored Connection holds its
  // Watches, each naming its Connection). A new cycle is a new tangle: break it.
  const known = [
    'src/dom0/xenstored/connection.ts src/dom0/xenstored/watches.ts',
    'src/dom0/xenstored/local.ts src/dom0/xenstored/node_access.ts src/dom0/xenstored/node_quota.ts src/dom0/xenstored/op_context.ts ' +
      'src/dom0/xenstored/ops.ts src/dom0/xenstored/ops_control.ts src/dom0/xenstored/ops_domain.ts src/dom0/xenstored/ops_perms.ts ' +
      'src/dom0/xenstored/ops_read.ts src/dom0/xenstored/ops_transaction.ts src/dom0/xenstored/ops_watch.ts src/dom0/xenstored/ops_write.ts ' +
      'src/dom0/xenstored/ring.ts src/dom0/xenstored/xenstored.ts',
    'src/xen/debugkeys.ts src/xen/domain.ts src/xen/evtchn.ts src/xen/evtchn_fifo.ts src/xen/evtchn_table.ts src/xen/gnttab.ts ' +
      'src/xen/hypercall.ts src/xen/hypervisor.ts src/xen/keyhandler.ts src/xen/keyhandler_domains.ts src/xen/keyhandler_gnttab.ts src/xen/keyhandler_runq.ts src/xen/oracle.ts src/xen/recorder.ts src/xen/sched.ts src/xen/timer.ts src/xen/vcpu.ts',
  ];
  const now = cycles(g.files, g.edges).map((c) => c.join(' ')).sort();
  const fresh = now.filter((c) => !known.some((k) => c.split(' ').every((f) => k.split(' ').includes(f))));
  assert.equal(fresh, []);
});

test('kernels/*.ts import only the public entries (xenode/guest, xenode/abi) and rxjs', () => {
  const k = importGraph(ROOT, 'kernels');
  assert.ok(k.files.length >= 5, `scanned ${k.files.length} kernels`);
  const bad: string[] = [];
  for (const f of k.files) {
    for (const t of k.edges.get(f) ?? []) bad.push(`${f} -> ${t} (a relative import: use 'xenode/guest' or 'xenode/abi')`);
    for (const p of k.external.get(f) ?? []) if (!/^(xenode\/(guest|abi)|rxjs(\/.*)?)$/.test(p)) bad.push(`${f} -> '${p}'`);
  }
  assert.equal(bad, []);
});

test('each exported name is defined once in src/ (except the listed pairs)', () => {
  // A name defined in two places makes a reader (and an import) pick the wrong one.
  const allowed: Record<string, string> = {
    Activations: "guest: the runtime's class (activations.ts) and mirage-xen's API object over it (runtime.ts)",
    Console: "guest: the console driver (console.ts) and the API object over it (runtime.ts)",
    Time: "guest: the timer heap (time.ts) and the API object over it (runtime.ts)",
    main: "cli: each command's entry point (src/cli/*.ts; main.ts dispatches to the one asked)",
    help: "cli: each command's --help text, beside its main() (src/cli/*.ts; main.ts prints the one of the command asked)",
    encodeRequest: 'one per protocol file (abi/xs_wire.ts, abi/blkif.ts), as each header names it',
  };
  const where = new Map<string, string[]>();
  for (const f of g.files) {
    const text = readFileSync(path.join(ROOT, f), 'utf8');
    for (const m of text.matchAll(/^export (?:declare )?(?:abstract )?(?:class|interface|type|const|let|function\*?|enum) ([A-Za-z_$][\w$]*)/gm)) {
      const list = where.get(m[1]!) ?? [];
      list.push(f);
      where.set(m[1]!, list);
    }
  }
  const dups = [...where].filter(([n, fs]) => fs.length > 1 && allowed[n] === undefined).map(([n, fs]) => `${n}: ${fs.join(', ')}`);
  assert.equal(dups, []);
});

test('no file in src/ is over 400 lines except the allow-list', () => {
  const long: string[] = [];
  for (const f of g.files) {
    const lines = readFileSync(path.join(ROOT, f), 'utf8').split('\n').length - 1;
    if (lines > 400 && LONG_FILES[f] === undefined) long.push(`${f}: ${lines} lines`);
  }
  assert.equal(long, []);
  for (const [f, why] of Object.entries(LONG_FILES)) assert.ok(why.length > 20, `${f} needs a reason`);
});

test.run();
