// xl, the command line toolstack (tools/xl), over Libxl: create, destroy,
// list, network-attach|detach, block-attach|detach, debug-keys, console,
// dmesg. Output matches xl's: `xl list` is byte-exact (docs/architecture.md §5.6), libxl's
// error lines go to stderr in the order libxl logs them.
//
// xlMain is a sim-thread coroutine; host.ts runs it as one thread.

import type { Co } from '../../sim/index.ts';
import { CfgError, parseDomainConfig, vdevToDevid, type DiskSpec, type VifSpec } from './cfg.ts';
import type { Libxl } from './libxl.ts';
import { backendPath } from './libxl.ts';
import type { DomInfo } from './xc.ts';
import { xlPauseUnpause, xlShutdownReboot } from './xl_vmcontrol.ts';
import { xlDevList } from './xl_devlist.ts';
import { optionNotSupported, xlInfo, xlVcpuList } from './xl_info.ts';
import { followConsole } from './xl_console.ts';
import { listLong } from './libxl_json.ts';

export const LIST_HEADER = 'Name                                        ID   Mem VCPUs\tState\tTime(s)';

const REASON_LETTERS = '-rscwS';

/** One `xl list` row: "%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f". `name` undefined prints "(null)". */
export function formatListRow(name: string | undefined, d: DomInfo): string {
  const n = (name ?? '(null)').padEnd(40);
  const mem = Math.floor((d.memKiB + d.outstandingKiB) / 1024);
  const reason = d.shutdown ? d.shutdownReason : 0;
  const flags =
    (d.running ? 'r' : '-') +
    (d.blocked ? 'b' : '-') +
    (d.paused ? 'p' : '-') +
    (d.shutdown ? 's' : '-') +
    (REASON_LETTERS[reason] ?? '?') +
    (d.dying ? 'd' : '-');
  const time = (d.cpuTimeNs / 1e9).toFixed(1).padStart(8);
  return `${n} ${String(d.domid).padStart(5)} ${String(mem).padStart(5)} ${String(d.vcpus).padStart(5)}     ${flags}  ${time}`;
}

export interface XlEnv {
  libxl: Libxl;
  /** Read a config file (a real path or a scenario's in-memory file). */
  readFile(path: string): string | undefined;
  /** XEN_SYSCTL_debug_keys: the handlers print into Xen's console ring, not to xl. */
  debugKeys?(keys: string): void;
  /** Hypervisor console ring (`xl dmesg`; `-c` clears it after reading). */
  dmesg?(clear: boolean): string;
  /** A domain's console output so far. */
  console?(domid: number): string | undefined;
}

export interface XlResult {
  code: number;
  stdout: string;
  stderr: string;
}

const USAGE = `Usage xl [-vfNtT] <subcommand> [args]

xl full list of subcommands:

 create              Create a domain from config file <filename>
 destroy             Terminate a domain immediately
 list                List information about all/some domains
 console             Attach to domain's console
 shutdown            Issue a shutdown signal to a domain
 reboot              Issue a reboot signal to a domain
 pause               Pause execution of a domain
 unpause             Unpause a paused domain
 vcpu-list           List the VCPUs for all/some domains
 info                Get information about Xen host
 debug-keys          Send debug keys to Xen
 dmesg               Read and/or clear dmesg buffer
 network-attach      Create a new virtual network device
 network-detach      Destroy a domain's virtual network device
 network-list        List virtual network interfaces for a domain
 block-attach        Create a new virtual block device
 block-detach        Destroy a domain's virtual block device
 block-list          List virtual block devices for a domain
`;

export function* xlMain(env: XlEnv, argv: string[]): Co<XlResult> {
  const out: string[] = [];
  const err: string[] = [];
  const lx = env.libxl;
  const logStart = lx.log.length;
  const flushLog = () => {
    for (const l of lx.log.slice(logStart)) err.push(l);
    lx.log.length = logStart;
  };
  const done = (code: number): XlResult => {
    flushLog();
    return { code, stdout: out.map((l) => l + '\n').join(''), stderr: err.map((l) => l + '\n').join('') };
  };

  // Domain identifier: a domid, or a name.
  const findDomain = function* (p: string | undefined): Co<number | undefined> {
    if (p === undefined) return undefined;
    if (/^\d+$/.test(p)) {
      const id = Number(p);
      if (lx.xc.xc_domain_getinfo(id)) return id;
      return undefined;
    }
    return yield* lx.nameToDomid(p);
  };
  const badDomain = (p: string | undefined): XlResult => {
    err.push(`${p ?? ''} is an invalid domain identifier (rc=-6)`);
    return done(1);
  };

  const [cmd, ...args] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
      out.push(USAGE.trimEnd());
      return done(cmd === undefined ? 1 : 0);

    case 'list':
    case 'li': {
      const doms = lx.xc.xc_domain_getinfolist().sort((a, b) => a.domid - b.domid);
      const long = args.some((a) => a === '-l' || a === '--long');
      const bad = args.find((a) => a.startsWith('-') && a !== '-l' && a !== '--long');
      if (bad !== undefined) {
        // xl's -v -Z -c -n exist but are not emulated; anything else is getopt's error.
        err.push(/^-[vZcn]$/.test(bad) ? `xl list: option ${bad} is not emulated (only -l)` : optionNotSupported(bad));
        return done(2);
      }
      const names = args.filter((a) => !a.startsWith('-'));
      if (names.length > 1) {
        // main_list: more than one domain is a usage error (help, EXIT_FAILURE).
        err.push('Usage: xl [-v] list [options] [Domain]');
        return done(1);
      }
      let sel = doms;
      if (names[0] !== undefined) {
        const id = yield* findDomain(names[0]);
        if (id === undefined) {
          // find_domain accepts any number; libxl_domain_info then finds no such domain.
          if (/^\d+$/.test(names[0])) {
            err.push(`Error: Domain '${names[0]}' does not exist.`);
            return done(1);
          }
          return badDomain(names[0]);
        }
        sel = doms.filter((d) => d.domid === id);
      }
      if (long) {
        const r = yield* listLong(lx, sel.map((d) => d.domid));
        out.push(r.out.replace(/\n$/, ''));
        return done(0);
      }
      out.push(LIST_HEADER);
      for (const d of sel) out.push(formatListRow(yield* lx.domidToName(d.domid), d));
      return done(0);
    }

    case 'create': {
      let paused = false;
      let attach = false;
      let quiet = false;
      const rest: string[] = [];
      for (const a of args) {
        if (a === '-p') paused = true;
        else if (a === '-c') attach = true;
        else if (a === '-q') quiet = true;
        else if (a === '-F') continue;
        else rest.push(a);
      }
      const file = rest[0];
      if (!file) {
        err.push('xl create: missing config file');
        return done(2);
      }
      const src = env.readFile(file);
      if (src === undefined) {
        err.push(`Failed to read config file: ${file}: No such file or directory`);
        return done(1);
      }
      if (!quiet) err.push(`Parsing config from ${file}`);
      let cfg;
      try {
        cfg = parseDomainConfig(file, src);
        // Extra "key=value" arguments override the file (xl create cfg name=foo).
        for (const kv of rest.slice(1)) {
          const m = /^([a-z_]+)=(.*)$/.exec(kv);
          if (m && m[1] === 'name') cfg.name = m[2]!;
        }
      } catch (e) {
        if (e instanceof CfgError) {
          err.push(e.message);
          err.push('Failed to parse config: Invalid argument');
          return done(1);
        }
        throw e;
      }
      if ((yield* lx.nameToDomid(cfg.name)) !== undefined) {
        err.push(`libxl: error: libxl_create.c:${575}:libxl__domain_make: Domain with name "${cfg.name}" already exists.`);
        err.push('libxl: error: libxl_create.c:1204:domcreate_rebuild_done: cannot (re-)build domain: -6');
        return done(1);
      }
      const r = yield* lx.domainCreate(cfg, { paused });
      if (r.rc !== 0) return done(3);
      if (attach && env.console) {
        flushLog();
        const f = yield* followConsole(lx, r.domid, env.console);
        if (f.out) out.push(f.out.replace(/\n$/, ''));
        err.push(...f.err);
      }
      return done(0);
    }

    case 'destroy': {
      const p = args.filter((a) => a !== '-f')[0];
      const id = yield* findDomain(p);
      if (id === undefined) return badDomain(p);
      if (id === 0) {
        err.push('Cannot destroy privileged domain 0.');
        return done(1);
      }
      const rc = yield* lx.domainDestroy(id);
      if (rc) {
        flushLog();
        err.push(`destroy failed (rc=${rc})`);
        return done(1);
      }
      return done(0);
    }

    case 'network-attach': {
      const id = yield* findDomain(args[0]);
      if (id === undefined) return badDomain(args[0]);
      const devs = yield* lx.listDevices(id);
      const used = new Set(devs.filter((d) => d.kind === 'vif').map((d) => d.devid));
      let devid = 0;
      while (used.has(devid)) devid++;
      const vif: VifSpec = { bridge: 'xenbr0', backend: 0, devid };
      for (const kv of args.slice(1)) {
        const [k, v = ''] = kv.split('=', 2) as [string, string?];
        if (k === 'mac') vif.mac = v.toLowerCase();
        else if (k === 'bridge') vif.bridge = v;
        else if (k === 'ip') vif.ip = v;
        else if (k === 'script') vif.script = v;
        else if (k === 'backend') vif.backend = Number(v);
        else {
          err.push(`unrecognized argument \`${kv}'`);
          return done(1);
        }
      }
      const rc = yield* lx.deviceAdd(id, { vif });
      if (rc) {
        flushLog();
        err.push('libxl_device_nic_add failed.');
        return done(1);
      }
      return done(0);
    }

    case 'block-attach': {
      const id = yield* findDomain(args[0]);
      if (id === undefined) return badDomain(args[0]);
      const spec = args.slice(1).join(',');
      let disk: DiskSpec;
      try {
        const cfg = parseDomainConfig('block-attach', `name="x"\ndisk=[${JSON.stringify(spec)}]\n`);
        disk = cfg.disks[0]!;
      } catch (e) {
        err.push(e instanceof CfgError ? e.detail : String(e));
        return done(1);
      }
      const rc = yield* lx.deviceAdd(id, { disk });
      if (rc) {
        flushLog();
        err.push('libxl_device_disk_add failed.');
        return done(1);
      }
      return done(0);
    }

    case 'network-detach':
    case 'block-detach': {
      const id = yield* findDomain(args[0]);
      if (id === undefined) return badDomain(args[0]);
      const kind = cmd === 'network-detach' ? 'vif' : 'vbd';
      const which = args[1];
      const devs = (yield* lx.listDevices(id)).filter((d) => d.kind === kind);
      let ref = devs.find((d) => String(d.devid) === which);
      if (!ref && which !== undefined && kind === 'vbd') {
        const n = vdevToDevid(which);
        ref = devs.find((d) => d.devid === n);
      }
      if (!ref && which !== undefined && kind === 'vif') {
        for (const d of devs) {
          if ((yield* lx.xs.read(0, `${backendPath(d)}/mac`)) === which.toLowerCase()) ref = d;
        }
      }
      if (!ref) {
        err.push(kind === 'vif' ? `Unknown device ${which}.` : `Error: Device ${which} not connected.`);
        return done(1);
      }
      const rc = yield* lx.deviceRemove(ref);
      if (rc) {
        flushLog();
        err.push(`libxl_device_${kind === 'vif' ? 'nic' : 'disk'}_remove failed.`);
        return done(1);
      }
      return done(0);
    }

    case 'shutdown':
    case 'reboot': {
      const r = yield* xlShutdownReboot(lx, cmd, args);
      err.push(...r.err);
      return done(r.code);
    }

    case 'pause':
    case 'unpause': {
      const r = yield* xlPauseUnpause(lx, cmd, args);
      err.push(...r.err);
      return done(r.code);
    }

    case 'network-list':
    case 'block-list': {
      const r = yield* xlDevList(lx, cmd, args);
      out.push(...r.out);
      err.push(...r.err);
      return done(r.code);
    }

    case 'info':
    case 'vcpu-list': {
      const r = cmd === 'info' ? xlInfo(lx, args) : yield* xlVcpuList(lx, args);
      out.push(...r.out);
      err.push(...r.err);
      return done(r.code);
    }

    case 'debug-keys': {
      const keys = args[0];
      if (!keys) {
        err.push("'xl debug-keys' requires at least one argument.");
        return done(2);
      }
      // Real xl prints nothing: the output is in the console ring (`xl dmesg`).
      env.debugKeys?.(keys);
      return done(0);
    }

    case 'dmesg': {
      const bad = args.find((a) => a !== '-c');
      if (bad !== undefined) {
        err.push(`xl dmesg: unknown option '${bad}' (usage: xl dmesg [-c])`);
        return done(2);
      }
      // The ring verbatim (it may start mid-line after a wrap, as Xen's does).
      const d = env.dmesg?.(args.includes('-c')) ?? '';
      if (d) out.push(d.replace(/\n$/, ''));
      return done(0);
    }

    case 'console': {
      const id = yield* findDomain(args.filter((a) => !a.startsWith('-'))[0]);
      if (id === undefined) return badDomain(args[0]);
      const c = env.console?.(id);
      if (c === undefined) {
        err.push(`Unable to attach console of domain ${id}`);
        return done(1);
      }
      if (c) out.push(c.replace(/\n$/, ''));
      return done(0);
    }

    default:
      err.push(`command not implemented: ${cmd}`);
      return done(1);
  }
}
