#!/usr/bin/env node
// Bundles each kernel (kernels/*.ts: app + the src/guest runtime) into one
// platform-neutral IIFE with esbuild (typescript.md §3). Build-time variants of
// the runtime are selected with `define` (src/guest/variant.ts). A guest may
// not import node:* (DESIGN.md principle 5): an onResolve plugin refuses it.
//
// API (used by the loader, the CLI and the tests):
//   import { buildKernel } from './build.mjs';
//   const { code, bytes, variant } = await buildKernel('kernels/hello.ts', { variant: 'unmask=checks-mask' });
// CLI: `node build.mjs [--variant V]` builds every kernel into dist/.
import * as esbuild from 'esbuild';
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

const FIXED = { unmask: 'checks-pending', block: 'cli-sti-hlt', handler: 'noop', upcall: 'vector' };
const PARTS = {
  fixed: {},
  'unmask=checks-mask': { unmask: 'checks-mask' },
  'unmask=checks-pending': { unmask: 'checks-pending' },
  'block=hlt-without-cli': { block: 'hlt-without-cli' },
  'block=cli-sti-hlt': { block: 'cli-sti-hlt' },
  'handler-clears-upcall-pending': { handler: 'clears-upcall-pending' },
  'handler=clears-upcall-pending': { handler: 'clears-upcall-pending' },
  'upcall=global-callback': { upcall: 'global-callback' },
  'upcall=vector': { upcall: 'vector' },
};
export const VARIANTS = ['fixed', 'unmask=checks-mask', 'block=hlt-without-cli', 'handler-clears-upcall-pending', 'upcall=global-callback'];

/** `fixed`, `unmask=checks-mask,block=hlt-without-cli`, ... or a Variant object. */
export function parseVariant(v) {
  if (v && typeof v === 'object') return { ...FIXED, ...v };
  const out = { ...FIXED };
  for (const part of String(v ?? 'fixed').split(',').map((s) => s.trim()).filter(Boolean)) {
    const p = PARTS[part];
    if (!p) throw new Error(`unknown variant '${part}' (known: ${VARIANTS.join(', ')})`);
    Object.assign(out, p);
  }
  return out;
}

export function variantName(v) {
  const parts = [];
  if (v.unmask !== FIXED.unmask) parts.push(`unmask=${v.unmask}`);
  if (v.block !== FIXED.block) parts.push(`block=${v.block}`);
  if (v.handler !== FIXED.handler) parts.push('handler-clears-upcall-pending');
  if (v.upcall !== FIXED.upcall) parts.push(`upcall=${v.upcall}`);
  return parts.length ? parts.join(',') : 'fixed';
}

const noNode = {
  name: 'xenode-no-node-builtins',
  setup(build) {
    build.onResolve({ filter: /^node:|^(fs|path|os|child_process|net|vm|worker_threads|crypto|util|events|stream)$/ }, (args) => ({
      errors: [{ text: `a guest kernel may not import '${args.path}' (imported by ${path.relative(root, args.importer)})` }],
    }));
  },
};

const cache = new Map();

/** Bundle `entry` (path relative to the repo root or absolute). Cached per (path, variant). */
export async function buildKernel(entry, opts = {}) {
  const variant = parseVariant(opts.variant);
  const abs = path.resolve(root, entry);
  const key = `${abs}\0${variantName(variant)}\0${opts.minify ? 1 : 0}`;
  const hit = cache.get(key);
  if (hit && !opts.noCache) return hit;
  const define = {
    __XENODE_VARIANT_UNMASK__: JSON.stringify(variant.unmask),
    __XENODE_VARIANT_BLOCK__: JSON.stringify(variant.block),
    __XENODE_VARIANT_HANDLER__: JSON.stringify(variant.handler),
    __XENODE_VARIANT_UPCALL__: JSON.stringify(variant.upcall),
  };
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
    define,
    banner: { js: '"use strict";' },
    metafile: true,
    logLevel: 'silent',
    plugins: [noNode],
  });
  for (const input of Object.keys(res.metafile.inputs)) {
    if (input.startsWith('node:')) throw new Error(`guest bundle pulls in ${input}`);
  }
  const code = res.outputFiles[0].text;
  const out = { code, bytes: Buffer.byteLength(code), variant, variantName: variantName(variant), entry: path.relative(root, abs) };
  cache.set(key, out);
  return out;
}

export function listKernels() {
  return readdirSync(path.join(root, 'kernels'))
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
    .map((f) => path.join('kernels', f));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--variant');
  const variant = i > 0 ? process.argv[i + 1] : 'fixed';
  mkdirSync(path.join(root, 'dist'), { recursive: true });
  for (const k of listKernels()) {
    const t0 = performance.now();
    const { code, bytes, variantName: vn } = await buildKernel(k, { variant });
    const name = path.basename(k, '.ts') + (vn === 'fixed' ? '' : '.' + vn.replace(/[=,]/g, '_')) + '.js';
    writeFileSync(path.join(root, 'dist', name), code);
    console.log(`${k} -> dist/${name}  ${(bytes / 1024).toFixed(1)} KiB  (${(performance.now() - t0).toFixed(0)} ms)`);
  }
}
