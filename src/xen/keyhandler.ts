// Xen's debug keys (xen/common/keyhandler.c): handle_keypress() runs the
// handler of each key, whose printk output goes to the console ring (serial
// and `xl dmesg`); an unknown key (or one >= 128) prints nothing
// (keyhandler.c: handle_keypress, Xen 4.17). `xl debug-keys KEYS` is
// XEN_SYSCTL_debug_keys: one handle_keypress per byte, rc 0 even for an
// unknown key, and xl itself prints nothing (tools/xl/xl_misc.c).
import type { Domain } from './domain.ts';
import { dumpEvtchn } from './debugkeys.ts';
import { dumpGnttab } from './keyhandler_gnttab.ts';
import { dumpDomains } from './keyhandler_domains.ts';
import { dumpRunq } from './keyhandler_runq.ts';

/** What a handler may read of the host besides the domains. */
export interface KeyHost {
  /** NOW(): system time in ns. */
  now: number;
  /** Physical CPUs (all online, cpupool 0). */
  nrCpus: number;
  /** Whether the handler may act (send VIRQ_DEBUG) or only render (a report's dump). */
  sideEffects: boolean;
}

/** A host with no time elapsed and Xen's default of 4 CPUs here (tests that render a dump with no hypervisor). */
export const DEFAULT_KEY_HOST: KeyHost = { now: 0, nrCpus: 4, sideEffects: false };

export interface KeyHandler {
  /** Xen's description, as 'h' lists it (keyhandler.c: key_table). */
  desc: string;
  /** The lines the handler prints, each with its "(XEN) " prefix and newline. */
  run(key: string, domains: readonly Domain[], host: KeyHost): string;
}

const xen = (lines: string[]): string => lines.map((l) => `(XEN) ${l}\n`).join('');

/** keyhandler.c: show_handlers — the installed keys in ASCII order. */
function showHandlers(key: string): string {
  const lines = [`'${key}' pressed -> showing installed handlers`];
  for (const k of Object.keys(KEY_TABLE).sort()) lines.push(` key '${k}' (ascii '${k.charCodeAt(0).toString(16).padStart(2, '0')}') => ${KEY_TABLE[k]!.desc}`);
  return xen(lines);
}

/** The handlers xenode installs; the others of Xen's table (registers, timers, NUMA, ...) model nothing here, so they are absent and print nothing. */
export const KEY_TABLE: Record<string, KeyHandler> = {
  e: { desc: 'dump evtchn info', run: (_k, doms) => dumpEvtchn(doms) },
  g: { desc: 'print grant table usage', run: (_k, doms) => dumpGnttab(doms) },
  h: { desc: 'show this message', run: (k) => showHandlers(k) },
  q: { desc: 'dump domain (and guest debug) info', run: (k, doms, host) => dumpDomains(k, doms, host) },
  r: { desc: 'dump run queues', run: (_k, doms, host) => dumpRunq(doms, host) },
};

/** handle_keypress for one key: its output, '' for a key without a handler. */
export function handleKeypress(key: string, domains: readonly Domain[], host: KeyHost = DEFAULT_KEY_HOST): string {
  if (key.length !== 1 || key.charCodeAt(0) >= 128) return '';
  const h = Object.hasOwn(KEY_TABLE, key) ? KEY_TABLE[key] : undefined;
  return h ? h.run(key, domains, host) : '';
}
