// `ps` and /proc/PID/stack for dom0 (procps and fs/proc/base.c: proc_pid_stack).
//
// ps prints kernel threads with their comm in brackets, the way procps does
// for a task with no command line. /proc/PID/stack prints one line per frame,
// innermost first, `[<0>] symbol+0xoff/0xsize [module]`: since Linux 4.x the
// address is hidden as `<0>` from anyone but root with kptr_restrict off, so
// `[<0>]` is what a real dom0 shows. Offsets of the functions in the well known
// stall stack are those of the 2018 report (docs/architecture.md §5.1); the rest are fixed
// per name (a stable hash), so outputs are deterministic.

import type { Kthread, Kthreads } from './kthread.ts';

export interface PsRow {
  pid: number;
  /** R, S or D (procps STAT, first letter). */
  stat: string;
  /** `[comm]` as procps prints a kernel thread. */
  command: string;
  /** The name the thread was created with (before TASK_COMM_LEN truncation). */
  name: string;
}

/** Process-like rows that are not kernel threads (kept tiny: init and kthreadd). */
const STATIC_ROWS: PsRow[] = [
  { pid: 1, stat: 'S', command: '/sbin/init', name: 'init' },
  { pid: 2, stat: 'S', command: '[kthreadd]', name: 'kthreadd' },
];

export function ps(kthreads: Kthreads): PsRow[] {
  const rows = [...STATIC_ROWS];
  for (const kt of kthreads.list()) rows.push(row(kt));
  return rows;
}

function row(kt: Kthread): PsRow {
  // A thread on the run queue is R; exited threads are reaped and not listed.
  const s = kt.state === 'X' ? 'Z' : kt.state;
  return { pid: kt.pid, stat: s, command: `[${kt.comm}]`, name: kt.fullName };
}

/** `ps ax -o pid,stat,command` text. */
export function formatPs(rows: readonly PsRow[]): string {
  const lines = ['  PID STAT COMMAND'];
  for (const r of rows) lines.push(`${String(r.pid).padStart(5)} ${r.stat.padEnd(4)} ${r.command}`);
  return lines.join('\n') + '\n';
}

// symbol → [offset, size, module]
const KNOWN: Record<string, [number, number, string?]> = {
  kthread_stop: [0x3e, 0x110],
  xenvif_disconnect_data: [0x74, 0xa0, 'xen_netback'],
  set_backend_state: [0x15b, 0x1e0, 'xen_netback'],
  frontend_changed: [0x49, 0xb0],
  xenwatch_thread: [0xa5, 0x160],
  kthread: [0x112, 0x130],
  ret_from_fork: [0x35, 0x40],
};

const MODULE_OF: Array<[RegExp, string]> = [
  [/^(xenvif_|netback_|backend_disconnect|backend_create_xenvif|connect_data_rings|read_xenbus_vif|hotplug_status_changed)/, 'xen_netback'],
  [/^(xen_blk|xen_vbd|dispatch_rw|do_block_io_op|free_persistent_gnts|connect_ring)/, 'xen_blkback'],
];

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** One /proc/PID/stack line for a frame name. */
export function stackLine(fn: string): string {
  const k = KNOWN[fn];
  let off: number, size: number, mod: string | undefined;
  if (k) [off, size, mod] = k;
  else {
    const h = hash(fn);
    size = 0x40 + (h & 0x3f0);
    off = 0x10 + ((h >>> 12) % (size - 0x10));
  }
  mod ??= MODULE_OF.find(([re]) => re.test(fn))?.[1];
  return `[<0>] ${fn}+0x${off.toString(16)}/0x${size.toString(16)}${mod ? ` [${mod}]` : ''}`;
}

/** /proc/PID/stack text (innermost first), or undefined for no such pid. */
export function stack(kthreads: Kthreads, pid: number): string | undefined {
  const kt = kthreads.get(pid);
  if (!kt) return undefined;
  return kt.thread.stack().map(stackLine).join('\n') + '\n';
}
