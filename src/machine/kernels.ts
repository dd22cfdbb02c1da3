// Building kernels: each kernels/*.ts (app + the src/guest runtime) becomes one
// platform-neutral IIFE bundle with esbuild. The build-time variants of the
// runtime (src/abi/variant.ts) are selected with esbuild `define`, so the
// historical bugs are the same code built differently. A guest may not import
// node:* (the unikernel's only doors are the hypercall interface, its vCPU and
// its pages): an onResolve plugin refuses it at build time.
//
// Kernels import the runtime as a package, `xenode/guest` and `xenode/abi`
// (package.json "exports"), wherever they live: the entry points resolve to
// this package's own files, and bare imports (rxjs) are found in this
// package's node_modules too, so a kernel in a folder of its own needs no
// node_modules of its own. The bundle carries a source map (KernelBundle.map,
// kept beside the code rather than inline, so the code the loader compiles
// and caches is unchanged); the loader maps a crash's stack with it.
//
//   const { code, bytes, variantName } = await buildKernel('kernels/hello.ts', { variant: 'unmask=checks-mask' });
//
// `npm run build:kernels [-- --variant V]` writes every kernel to dist/.
import * as esbuild from 'esbuild';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { insertBudget } from './budget.ts';
import { VARIANT_NAMES, parseVariant, variantDefines, variantName, type Variant } from '../abi/variant.ts';

/** The repository root (kernels/ and the runtime are found from here). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface KernelBundle {
  code: string;
  /** The source map (JSON, absolute `sources`), for mapping stack traces (loader.ts: mapStack). */
  map: string;
  bytes: number;
  variant: Variant;
  variantName: string;
  /** Entry path relative to the repo root. */
  entry: string;
}

export interface BuildOptions {
  variant?: string | Partial<Variant>;
  minify?: boolean;
  noCache?: boolean;
  /** Insert the step budget (src/machine/budget.ts; default true): without it a guest that spins after boot stops the host. */
  budget?: boolean;
}

/** The variants the CLI offers (comma lists of these combine). */
export const VARIANTS: readonly string[] = VARIANT_NAMES;
export { variantName };

const NODE_BUILTIN = /^node:|^(fs|path|os|child_process|net|vm|worker_threads|crypto|util|events|stream)$/;

const noNode: esbuild.Plugin = {
  name: 'xenode-no-node-builtins',
  setup(build) {
    build.onResolve({ filter: NODE_BUILTIN }, (args) => ({
      errors: [{ text: `a guest kernel may not import '${args.path}' (imported by ${path.relative(ROOT, args.importer)})` }],
    }));
  },
};

/** The package's public entry points (package.json "exports"), by import path. */
export const PUBLIC_ENTRIES: Readonly<Record<string, string>> = {
  'xenode/guest': path.join(ROOT, 'src/guest/index.ts'),
  'xenode/abi': path.join(ROOT, 'src/abi/index.ts'),
};

/** `xenode/guest` and `xenode/abi` are this package's files, from a kernel anywhere. */
const publicEntries: esbuild.Plugin = {
  name: 'xenode-public-entries',
  setup(build) {
    build.onResolve({ filter: /^xenode\/(guest|abi)$/ }, (args) => ({ path: PUBLIC_ENTRIES[args.path]! }));
  },
};

/**
 * rxjs's createErrorClass is src/guest/rxjs_error_class.ts: the same class,
 * made without a store V8 answers by walking every realm of the host (the
 * module's comment says why that matters with thousands of domains).
 */
const RXJS_ERROR_CLASS = path.join(ROOT, 'src/guest/rxjs_error_class.ts');
const rxjsErrorClass: esbuild.Plugin = {
  name: 'xenode-rxjs-error-class',
  setup(build) {
    build.onResolve({ filter: /(^|\/)createErrorClass(\.js)?$/ }, (args) =>
      /[\\/]node_modules[\\/]rxjs[\\/]/.test(args.importer) ? { path: RXJS_ERROR_CLASS } : undefined);
  },
};

/** Bundles by (absolute entry, variant, minify): a kernel is built once per process. */
const cache = new Map<string, KernelBundle>();

/** Bundle `entry` (relative to the repo root, or absolute). */
export async function buildKernel(entry: string, opts: BuildOptions = {}): Promise<KernelBundle> {
  const variant = typeof opts.variant === 'object' ? { ...parseVariant('fixed'), ...opts.variant } : parseVariant(opts.variant);
  const abs = path.resolve(ROOT, entry);
  const key = `${abs}\0${variantName(variant)}\0${opts.minify ? 1 : 0}\0${opts.budget === false ? 0 : 1}`;
  const hit = cache.get(key);
  if (hit && !opts.noCache) return hit;
  const res = await esbuild.build({
    entryPoints: [abs],
    bundle: true,
    write: false,
    platform: 'neutral',
    format: 'iife',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['es2015'],
    treeShaking: true,
    minify: opts.minify ?? false,
    define: variantDefines(variant),
    banner: { js: '"use strict";' },
    metafile: true,
    logLevel: 'silent',
    plugins: [noNode, publicEntries, rxjsErrorClass],
    // rxjs and the runtime's other packages: this package's node_modules, for kernels outside it.
    nodePaths: [path.join(ROOT, 'node_modules')],
    absWorkingDir: ROOT,
    sourcemap: 'external',
    sourcesContent: false,
    outfile: path.join(ROOT, 'dist', path.basename(abs, '.ts') + '.js'),
  });
  for (const input of Object.keys(res.metafile!.inputs)) {
    if (input.startsWith('node:')) throw new Error(`guest bundle pulls in ${input}`);
  }
  const js = res.outputFiles!.find((f) => f.path.endsWith('.js'))!;
  const map = res.outputFiles!.find((f) => f.path.endsWith('.js.map'))!;
  // esbuild ends the code with a sourceMappingURL comment for the external map: the map travels beside the code instead.
  const plain = js.text.replace(/\n\/\/# sourceMappingURL=\S+\n?$/, '\n');
  // The budget's insertions add no line: the map's lines still hold (columns on an instrumented line shift).
  const code = opts.budget === false ? plain : insertBudget(plain);
  const sm = JSON.parse(map.text) as { sources: string[] };
  sm.sources = sm.sources.map((s) => path.resolve(path.dirname(map.path), s));
  const out: KernelBundle = { code, map: JSON.stringify(sm), bytes: Buffer.byteLength(code), variant, variantName: variantName(variant), entry: path.relative(ROOT, abs) };
  cache.set(key, out);
  return out;
}

/** kernels/*.ts (not _*.ts or .d.ts), relative to the root. */
export function listKernels(): string[] {
  return readdirSync(path.join(ROOT, 'kernels'))
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
    .map((f) => path.join('kernels', f));
}

/** `npm run build:kernels`: every kernel into dist/. */
async function buildAll(variant: string): Promise<void> {
  mkdirSync(path.join(ROOT, 'dist'), { recursive: true });
  for (const k of listKernels()) {
    const t0 = performance.now();
    const { code, bytes, variantName: vn } = await buildKernel(k, { variant });
    const name = path.basename(k, '.ts') + (vn === 'fixed' ? '' : '.' + vn.replace(/[=,]/g, '_')) + '.js';
    writeFileSync(path.join(ROOT, 'dist', name), code);
    console.log(`${k} -> dist/${name}  ${(bytes / 1024).toFixed(1)} KiB  (${(performance.now() - t0).toFixed(0)} ms)`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--variant');
  buildAll(i > 0 ? process.argv[i + 1]! : 'fixed').catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
