// The import graph of src/, read with a regexp scan (TypeScript 7 has no
// compiler API in JS and dependency-cruiser is not a dependency): every
// `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`
// with a relative specifier, type-only imports included (a type import still
// ties the layers together for a reader). Comments are stripped first so a
// commented-out import is not an edge.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface Graph {
  /** repository-relative paths of every .ts file under the scanned root */
  files: string[];
  /** file -> the repository-relative files it imports (relative specifiers only) */
  edges: Map<string, string[]>;
  /** file -> the files it imports for values (`import type`/`export type` left out: erased at run time) */
  valueEdges: Map<string, string[]>;
  /** file -> bare specifiers it imports (node:*, rxjs, esbuild…) */
  external: Map<string, string[]>;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|[;\s])(?:import|export)\s+(type\s+)?(?:[\w*{}\s,$]*?\s*from\s*)?['"]([^'"\n]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g;

export interface Specifier {
  spec: string;
  /** `import type …` / `export type …`: erased, no run-time edge */
  typeOnly: boolean;
}

/** the specifiers a TypeScript source imports */
export function specifiers(text: string): Specifier[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: Specifier[] = [];
  for (const m of code.matchAll(IMPORT)) out.push({ spec: m[2]!, typeOnly: m[1] !== undefined });
  for (const m of code.matchAll(DYNAMIC)) out.push({ spec: m[1]!, typeOnly: false });
  // A template literal such as `import '${x}'` in an error message is not an import.
  return out.filter((s) => !s.spec.includes('${'));
}

/** scan `root/dir` (e.g. 'src'); paths in the result are relative to `root` */
export function importGraph(root: string, dir: string): Graph {
  const files = walk(path.join(root, dir)).map((f) => path.relative(root, f).split(path.sep).join('/'));
  const edges = new Map<string, string[]>();
  const valueEdges = new Map<string, string[]>();
  const external = new Map<string, string[]>();
  for (const f of files) {
    const local: string[] = [];
    const value: string[] = [];
    const bare: string[] = [];
    for (const { spec, typeOnly } of specifiers(readFileSync(path.join(root, f), 'utf8'))) {
      if (!spec.startsWith('.')) {
        bare.push(spec);
        continue;
      }
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(f), spec));
      local.push(to);
      if (!typeOnly) value.push(to);
    }
    edges.set(f, local);
    valueEdges.set(f, value);
    external.set(f, bare);
  }
  return { files, edges, valueEdges, external };
}

/** strongly connected components of `edges` with more than one file (or a self-import): the import cycles */
export function cycles(files: string[], edges: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) strong(f);
  return out;
}
