// Typed host-side access to build.mjs (esbuild bundling of kernels).
// @ts-ignore -- build.mjs is plain JS at the repo root
import * as b from '../../build.mjs';
import type { Variant } from './variant.ts';

export interface KernelBundle {
  code: string;
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
}

export const buildKernel: (entry: string, opts?: BuildOptions) => Promise<KernelBundle> = b.buildKernel;
export const listKernels: () => string[] = b.listKernels;
export const VARIANTS: readonly string[] = b.VARIANTS;
export const variantName: (v: Variant) => string = b.variantName;
