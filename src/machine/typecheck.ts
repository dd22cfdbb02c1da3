// `xenode run` type-checks a kernel before building it: esbuild only strips
// types, so without this a kernel with a type error would build, boot and
// fail at run time (or not at all). The check runs the package's own `tsc`
// on the one file, with the options the repository's kernels are held to
// (strict, ES2022, no DOM), `xenode/guest` and `xenode/abi` mapped to this
// package's sources and rxjs to its node_modules: a kernel in a folder of its
// own needs nothing installed but xenode.
//
// The answer is the compiler's diagnostics as `file:line:col: error TSnnnn:
// message` lines (relative to the current directory), or none.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { PUBLIC_ENTRIES, ROOT } from './kernels.ts';

export interface TypecheckResult {
  /** false when tsc is not installed next to this package (then nothing was checked). */
  checked: boolean;
  /** `file:line:col: error TSnnnn: message`, one per diagnostic. */
  errors: string[];
}

/** The package's tsc launcher, or undefined when typescript is not installed (it is a devDependency). */
function tscPath(): string | undefined {
  try {
    const pkg = createRequire(path.join(ROOT, 'package.json')).resolve('typescript/package.json');
    const bin = path.join(path.dirname(pkg), 'bin', 'tsc');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** Type-check kernel files (one tsc run for all of them: the runtime is checked once). */
export function typecheckKernel(file: string | readonly string[]): TypecheckResult {
  const tsc = tscPath();
  if (!tsc) return { checked: false, errors: [] };
  const abs = (typeof file === 'string' ? [file] : file).map((f) => path.resolve(f));
  const nm = path.join(ROOT, 'node_modules');
  const config = {
    compilerOptions: {
      target: 'es2022',
      module: 'nodenext',
      lib: ['es2022'],
      types: ['node'],
      typeRoots: [path.join(nm, '@types')],
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      paths: {
        ...Object.fromEntries(Object.entries(PUBLIC_ENTRIES).map(([k, v]) => [k, [v]])),
        rxjs: [path.join(nm, 'rxjs')],
        'rxjs/*': [path.join(nm, 'rxjs', '*')],
      },
    },
    files: abs,
  };
  // The config lives in a temporary folder for the one run (the kernel's folder stays untouched).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xenode-tsc-'));
  const cfg = path.join(dir, 'tsconfig.json');
  writeFileSync(cfg, JSON.stringify(config));
  let r;
  try {
    r = spawnSync(process.execPath, [tsc, '-p', cfg, '--pretty', 'false'], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (r.status === 0) return { checked: true, errors: [] };
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const errors: string[] = [];
  for (const line of out.split('\n')) {
    // tsc: `path(line,col): error TSnnnn: message`
    const m = /^(.+?)\((\d+),(\d+)\): (error .*)$/.exec(line);
    if (m) errors.push(`${path.relative(process.cwd(), path.resolve(m[1]!))}:${m[2]}:${m[3]}: ${m[4]}`);
    else if (line.trim() && errors.length > 0) errors[errors.length - 1] += `\n${line}`;
    else if (line.trim()) errors.push(line);
  }
  if (errors.length === 0) errors.push(`tsc exited with ${r.status}`);
  return { checked: true, errors };
}
