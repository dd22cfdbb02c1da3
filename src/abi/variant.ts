// Build-time variants of the runtime (docs/architecture.md §3.4). The historical
// bugs of the 2020 PVHv2 port are switches in THE SAME code, selected by
// esbuild `define` (src/machine/kernels.ts); outside a bundle (unit tests) the defaults are
// the fixed runtime. See docs/architecture.md §4.2–4.5.

declare const __XENODE_VARIANT_UNMASK__: string;
declare const __XENODE_VARIANT_BLOCK__: string;
declare const __XENODE_VARIANT_HANDLER__: string;
declare const __XENODE_VARIANT_UPCALL__: string;

export interface Variant {
  /** `checks-mask`: Solo5 before df0b6b5 reads back the mask bit as "pending". */
  unmask: 'checks-pending' | 'checks-mask';
  /** `hlt-without-cli`: Solo5 before 8bf0bff: check, set_timer_op, hlt with IF=1. */
  block: 'cli-sti-hlt' | 'hlt-without-cli';
  /** `clears-upcall-pending`: the vector handler demuxes (and clears upcall_pending). */
  handler: 'noop' | 'clears-upcall-pending';
  /** `global-callback`: CALLBACK_IRQ type 2 vector 32 instead of the per-vCPU vector. */
  upcall: 'vector' | 'global-callback';
}

export const FIXED: Variant = { unmask: 'checks-pending', block: 'cli-sti-hlt', handler: 'noop', upcall: 'vector' };

export const buildVariant: Variant = {
  unmask: typeof __XENODE_VARIANT_UNMASK__ !== 'undefined' ? (__XENODE_VARIANT_UNMASK__ as Variant['unmask']) : FIXED.unmask,
  block: typeof __XENODE_VARIANT_BLOCK__ !== 'undefined' ? (__XENODE_VARIANT_BLOCK__ as Variant['block']) : FIXED.block,
  handler: typeof __XENODE_VARIANT_HANDLER__ !== 'undefined' ? (__XENODE_VARIANT_HANDLER__ as Variant['handler']) : FIXED.handler,
  upcall: typeof __XENODE_VARIANT_UPCALL__ !== 'undefined' ? (__XENODE_VARIANT_UPCALL__ as Variant['upcall']) : FIXED.upcall,
};

/** Variant names as the CLI spells them: `fixed`, or a comma list of the bugs. */
export const VARIANT_NAMES = ['fixed', 'june-2020', 'unmask=checks-mask', 'block=hlt-without-cli', 'handler-clears-upcall-pending', 'upcall=global-callback'] as const;

/** Parse `fixed` / `unmask=checks-mask,block=hlt-without-cli` / ... (throws on unknown names). */
export function parseVariant(name: string | undefined): Variant {
  const v: Variant = { ...FIXED };
  if (!name || name === 'fixed') return v;
  for (const part of name.split(',').map((s) => s.trim()).filter(Boolean)) {
    switch (part) {
      case 'unmask=checks-mask': v.unmask = 'checks-mask'; break;
      case 'unmask=checks-pending': v.unmask = 'checks-pending'; break;
      case 'block=hlt-without-cli': v.block = 'hlt-without-cli'; break;
      case 'block=cli-sti-hlt': v.block = 'cli-sti-hlt'; break;
      case 'handler-clears-upcall-pending': case 'handler=clears-upcall-pending': v.handler = 'clears-upcall-pending'; break;
      case 'upcall=global-callback': v.upcall = 'global-callback'; break;
      case 'upcall=vector': v.upcall = 'vector'; break;
      case 'june-2020': v.unmask = 'checks-mask'; v.block = 'hlt-without-cli'; break; // the runtime of 15 June 2020: both bugs
      case 'fixed': break;
      default: throw new Error(`unknown variant '${part}' (known: ${VARIANT_NAMES.join(', ')})`);
    }
  }
  return v;
}

/** The esbuild `define` map selecting `v`. */
export function variantDefines(v: Variant): Record<string, string> {
  return {
    __XENODE_VARIANT_UNMASK__: JSON.stringify(v.unmask),
    __XENODE_VARIANT_BLOCK__: JSON.stringify(v.block),
    __XENODE_VARIANT_HANDLER__: JSON.stringify(v.handler),
    __XENODE_VARIANT_UPCALL__: JSON.stringify(v.upcall),
  };
}

/** The CLI name of `v`: `fixed`, or the comma list of its bugs in a fixed order. */
export function variantName(v: Variant): string {
  const parts: string[] = [];
  if (v.unmask !== FIXED.unmask) parts.push(`unmask=${v.unmask}`);
  if (v.block !== FIXED.block) parts.push(`block=${v.block}`);
  if (v.handler !== FIXED.handler) parts.push('handler-clears-upcall-pending');
  if (v.upcall !== FIXED.upcall) parts.push(`upcall=${v.upcall}`);
  return parts.length ? parts.join(',') : 'fixed';
}
