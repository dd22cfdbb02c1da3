// CONTROL: the xenstore-control commands (cxenstored 4.17
// xenstored_control.c: do_control); what we answer differently is README row 4.

import { asciiz, atoi, countNuls, getStrings } from './op_args.ts';
import { replyError, type Handler, type OpContext } from './op_context.ts';
import { QUOTA_NAMES, type Quotas } from './quota.ts';

const CONTROL_HELP =
  'check\t\nlog\ton|off\nlive-update\t[-c <cmdline>] [-F] [-t <timeout>] <file>\n    Default timeout is 60 seconds.\n' +
  'logfile\t<file>\nmemreport\t[<file>]\nprint\t<string>\nquota\t[set <name> <val>|<domid>]\nquota-soft\t[set <name> <val>]\nhelp\t\n';

type ControlFn = (x: OpContext, args: string[]) => Uint8Array;
const CONTROL_CMDS: Record<string, { min: number; max: number; fn: ControlFn }> = {
  check: { min: 0, max: 0, fn: () => asciiz('OK') },
  log: {
    min: 1, max: 1,
    fn: (_x, a) => (a[0] === 'on' || a[0] === 'off' ? asciiz('OK') : replyError('EINVAL')),
  },
  logfile: { min: 1, max: 1, fn: () => asciiz('OK') },
  memreport: { min: 0, max: 1, fn: () => asciiz('OK') },
  print: { min: 1, max: 1, fn: (x, a) => { x.d.log(a[0]!); return asciiz('OK'); } },
  quota: { min: 0, max: 3, fn: controlQuota },
  'quota-soft': {
    min: 0, max: 3,
    fn: (_x, a) => (a.length === 0
      ? asciiz('Quota settings:\nmemory           :  2097152 Total Xenstore memory per domain (warning level)\n')
      : replyError('EINVAL')),
  },
  help: { min: 0, max: 0, fn: () => asciiz(CONTROL_HELP) },
};

function pad(n: number, w: number): string {
  return String(n).padStart(w);
}

function controlQuota(x: OpContext, a: string[]): Uint8Array {
  const q = x.d.quotas;
  if (a.length === 0) {
    const line = (name: string, v: number, what: string) => `${name.padEnd(17)}:${pad(v, 9)} ${what}\n`;
    let s = 'Quota settings:\n';
    s += line('nodes', q.nodes, 'Nodes per domain');
    s += line('watches', q.watches, 'Watches per domain');
    s += line('transactions', q.transactions, 'Transactions per domain');
    s += line('outstanding', q.outstanding, 'Outstanding requests per domain');
    s += line('transaction-nodes', q.transactionNodes, 'Max. number of accessed nodes per transaction');
    s += line('memory', q.memory, 'Total Xenstore memory per domain (error level)');
    s += line('node-size', q.nodeSize, 'Max. size of a node');
    s += line('path-max', 2048, 'Max. length of a node path');
    s += line('permissions', q.perms, 'Max. number of permissions per node');
    return asciiz(s);
  }
  if (a[0] === 'set') {
    if (a.length !== 3) replyError('EINVAL');
    const e = QUOTA_NAMES.find(([, n]) => n === a[1]);
    const v = atoi(a[2]!);
    if (!e || v <= 0) replyError('EINVAL');
    (q as Quotas)[e[0]] = v;
    return asciiz('OK');
  }
  if (a.length !== 1) replyError('EINVAL');
  const domid = atoi(a[0]!) >>> 0;
  const dom = x.d.domains.get(domid);
  if (!dom || (!dom.introduced && domid !== 0)) replyError('ENOENT');
  const line = (name: string, v: number) => `${name.padEnd(16)}:${pad(v, 9)}\n`;
  const u = x.d.usage(domid);
  let s = `Domain ${domid}:\n`;
  s += line('nodes', u.nodes);
  s += line('watches', u.watches);
  s += line('transactions', u.transactions);
  s += line('outstanding', u.outstanding);
  s += line('memory', u.memory);
  return asciiz(s);
}

export const doControl: Handler = (x) => {
  const p = x.m.payload;
  const num = countNuls(p);
  const s = getStrings(p, num);
  if (s.length === 0) replyError('EINVAL');
  const cmd = CONTROL_CMDS[s[0]!];
  if (!cmd || !Object.hasOwn(CONTROL_CMDS, s[0]!)) replyError('EINVAL');
  const args = s.slice(1);
  if (args.length < cmd.min || args.length > cmd.max) replyError('EINVAL');
  return cmd.fn(x, args);
};
