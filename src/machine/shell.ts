// dom0's shell, beside `xl`: the commands the 2016-2018 reports used to look
// at a stall and to undo it, on an emulated Machine. `xenode xl` (and
// `xenode dom0`) hand every line that is not an xl command to dom0Command().
//
//   ps                              kernel threads, procps style
//   cat /proc/PID/stack             a thread's call chain
//   ethtool -S vifD.N               netback's zerocopy counters
//   ifconfig ethX up|down           NIC down frees the skbs it holds (the 2016 workaround)
//   xwstall hold vifD.N             the NIC keeps the next zerocopy skb from vifD.N (2018 repro hook)
//   blkdisk stall|resume            the backing store stops / resumes completing I/O (blkback case 2)
//   blkgrant hold|release           the block layer keeps a persistent grant page (blkback case 3)
//   xenstore-read PATH | xenstore-ls [PATH] | xenstore-write PATH VALUE
//   dmesg                           NIC and dom0 kernel log lines
//   ls /var/log/xen/console | cat /var/log/xen/console/guest-NAME.log
//                                   xenconsoled's per-guest logs (they outlive the domain)
//   ping [-f] [-q] [-c N] [-i S] [-s SIZE] [-W S] [-w S] IP
//                                   iputils ping from xenbr0 (10.0.0.1/24) on the virtual clock

import type { Machine } from './machine.ts';
import type { XlResult } from '../dom0/toolstack/xl.ts';
import { current } from '../sim/index.ts';
import { parsePing, ping } from '../dom0/ping.ts';
import { LOG_DIR } from '../dom0/xenconsoled.ts';

const ok = (stdout: string): XlResult => ({ code: 0, stdout: stdout && !stdout.endsWith('\n') ? stdout + '\n' : stdout, stderr: '' });
const fail = (stderr: string, code = 1): XlResult => ({ code, stdout: '', stderr: stderr.endsWith('\n') ? stderr : stderr + '\n' });

/** `help` at the prompt: dom0's commands, one line each. */
export const DOM0_HELP = `dom0 commands:
 ps [ax]                          kernel threads, procps style
 cat /proc/PID/stack              a thread's call chain
 ethtool -S vifD.N                netback's zerocopy counters
 ifconfig ethX up|down            NIC down frees the skbs it holds
 xwstall hold vifD.N              the NIC keeps the next zerocopy skb from vifD.N
 blkdisk stall|resume             the backing store stops / resumes completing I/O
 blkgrant hold|release            the block layer keeps a persistent grant page
 xenstore-read PATH | xenstore-ls [PATH] | xenstore-write PATH VALUE
 dmesg                            dom0 kernel and NIC log
 ls|cat /var/log/xen/console/...  xenconsoled's guest logs (guest-NAME.log)
 ping [-f] [-q] [-c N] [-i S] IP  ping from xenbr0 (10.0.0.1/24)
 sleep SECONDS                    let virtual time pass
 grep [-vicEF] RE | head [-n N] | wc [-lwc]   filters after a |
 help, exit, quit
`;

export const DOM0_COMMANDS = ['ls', 'ps', 'cat', 'ethtool', 'ifconfig', 'xwstall', 'blkdisk', 'blkgrant', 'xenstore-read', 'xenstore-ls', 'xenstore-write', 'dmesg', 'ping'];

/** Run a dom0 shell command; undefined when `argv[0]` is not one. */
export function dom0Command(host: Machine, argv: string[]): XlResult | undefined {
  const [cmd, a1, a2] = argv;
  if (!cmd || !DOM0_COMMANDS.includes(cmd)) return undefined;
  const logs = consoleLogs(host, cmd, a1);
  if (logs) return logs;
  const k = host.kernel;
  if (!k && !cmd.startsWith('xenstore')) return fail(`${cmd}: this host runs no dom0 kernel`);
  switch (cmd) {
    case 'ps':
      return ok(k!.psText());
    case 'ls':
      return fail(`ls: cannot access '${a1 ?? '.'}': only ${LOG_DIR} is emulated`, 2);
    case 'cat': {
      const m = /^\/proc\/(\d+)\/stack$/.exec(a1 ?? '');
      if (!m) return fail(`cat: ${a1 ?? ''}: only /proc/PID/stack and ${LOG_DIR}/* are emulated`);
      const s = k!.stack(Number(m[1]));
      return s === undefined ? fail(`cat: ${a1}: No such file or directory`) : ok(s);
    }
    case 'ethtool': {
      if (a1 !== '-S' || !a2) return fail('usage: ethtool -S vifD.N', 2);
      const s = k!.ethtool(a2);
      return s === undefined ? fail(`Cannot get stats strings information: No such device`) : ok(s);
    }
    case 'ifconfig': {
      if (!a1 || (a2 !== 'up' && a2 !== 'down')) return fail('usage: ifconfig ethX up|down', 2);
      const r = k!.ifconfig(a1, a2);
      host.sim.run({ until: host.sim.now + 1_000_000 });
      return r ? ok('') : fail(`${a1}: ERROR while getting interface flags: No such device`);
    }
    case 'xwstall': {
      if (a1 !== 'hold' || !a2) return fail('usage: xwstall hold vifD.N', 2);
      k!.nic.hold(a2);
      return ok(`xwstall: the NIC will hold the next zerocopy sk_buff from ${a2}`);
    }
    case 'blkdisk': {
      if (a1 === 'stall') k!.blkback.queue.stall();
      else if (a1 === 'resume') k!.blkback.queue.resume();
      else return fail('usage: blkdisk stall|resume', 2);
      host.sim.run({ until: host.sim.now + 1_000_000 });
      return ok('');
    }
    case 'blkgrant': {
      if (a1 === 'hold') return ok(k!.blkback.holdPersistentGrant() ? 'holding a persistent grant page' : 'will hold the next persistent grant page mapped');
      if (a1 === 'release') {
        k!.blkback.releasePersistentGrants();
        host.sim.run({ until: host.sim.now + 1_000_000 });
        return ok('');
      }
      return fail('usage: blkgrant hold|release', 2);
    }
    case 'xenstore-read':
      return a1 ? host.xenstoreRead(a1) : fail('usage: xenstore-read PATH', 2);
    case 'xenstore-ls':
      return host.xenstoreLs(a1 ?? '/');
    case 'xenstore-write': {
      if (!a1 || a2 === undefined) return fail('usage: xenstore-write PATH VALUE', 2);
      host.run(() => host.xs.write(0, a1, a2), 'xenstore-write');
      return ok('');
    }
    case 'dmesg':
      return ok([...k!.klog.lines(), ...k!.nic.log].join('\n'));
    case 'ping': {
      const o = parsePing(argv.slice(1));
      if (!('target' in o)) return o;
      let stdout = '', stderr = '';
      const code = host.run(() => ping(host.sim, k!.inet, o, current().pid, (s) => (stdout += s), (s) => (stderr += s)), 'ping');
      return { code, stdout, stderr };
    }
  }
  return undefined;
}

/** `ls LOG_DIR` and `cat LOG_DIR/FILE`: xenconsoled's guest logs (no dom0 kernel needed); undefined for other paths. */
function consoleLogs(host: Machine, cmd: string, path: string | undefined): XlResult | undefined {
  if (path === undefined) return undefined;
  const p = path.replace(/\/+$/, '');
  if (cmd === 'ls' && p === LOG_DIR) return ok(host.consoled.logFiles().join('\n'));
  if (cmd === 'cat' && p.startsWith(`${LOG_DIR}/`)) {
    const text = host.consoled.logFile(p.slice(LOG_DIR.length + 1));
    // cat prints the bytes as they are: no newline added to a last partial line.
    return text === undefined ? fail(`cat: ${path}: No such file or directory`) : { code: 0, stdout: text, stderr: '' };
  }
  return undefined;
}
