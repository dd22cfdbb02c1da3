// `xl info [-n] [KEY]` and `xl vcpu-list [DOM...]` (tools/xl/xl_info.c:
// print_info, output_*; xl_vcpu.c: vcpulist, print_vcpuinfo; xl_utils.c:
// print_bitmap; Xen 4.17), over libxc's physinfo and vcpu info.
//
// The host is xenode's: its CPUs, RAM and capabilities come from the
// hypervisor (Xc.xc_physinfo); dom0's utsname and Xen's build strings are
// the fixed ones below (no real kernel or compiler stands behind them, and a
// transcript must not depend on the machine that runs it).
import { XEN_EXTRAVERSION, XEN_VERSION_MAJOR, XEN_VERSION_MINOR } from '../../abi/xen.ts';
import type { Co } from '../../sim/index.ts';
import type { Libxl } from './libxl.ts';
import { libxlLine } from './log.ts';
import type { PhysInfo } from './xc.ts';

/** dom0's uname(2): what `xl info` prints as host/release/version/machine. */
export const DOM0_UTSNAME = { nodename: 'xenode', release: '6.1.0-xenode-amd64', version: '#1 SMP PREEMPT_DYNAMIC xenode', machine: 'x86_64' } as const;

/** libxl_version_info of the emulated Xen (XENVER_* answers). */
export const XEN_BUILD = {
  // arch_get_xen_caps: no PV guests (only PVH, an HVM container), so no "xen-3.0-…" entries.
  caps: 'hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64',
  pagesize: 4096,
  // x86_64 HYPERVISOR_VIRT_START.
  virtStart: 0xffff800000000000n,
  changeset: 'unavailable',
  // No boot loader passes Xen options: an empty command line.
  commandline: '',
  compiler: 'xenode (TypeScript)',
  compileBy: 'xenode',
  compileDomain: '',
  compileDate: '',
  buildId: '',
} as const;

/** def_getopt (xl_utils.c) on an option the command does not take: this line, exit 2. */
export function optionNotSupported(arg: string): string {
  return `option \`${arg.replace(/^-+/, '').charAt(0)}' not supported.`;
}

export interface InfoResult {
  code: number;
  out: string[];
  err: string[];
}

const pad = (key: string) => key.padEnd(23) + ': ';
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/** The physinfo lines (output_physinfo), each "key<pad>: value". */
function physLines(p: PhysInfo): string[] {
  const mib = (pages: number) => Math.floor(pages / 256);
  const caps = [
    p.capPv ? ' pv' : '', p.capHvm ? ' hvm' : '', '', '', p.capHap ? ' hap' : '', p.capShadow ? ' shadow' : '', '', '', '',
    p.capGnttabV1 ? ' gnttab-v1' : '', p.capGnttabV2 ? ' gnttab-v2' : '',
  ].join('');
  return [
    `${pad('nr_cpus')}${p.nrCpus}`,
    `${pad('max_cpu_id')}${p.maxCpuId}`,
    `${pad('nr_nodes')}${p.nrNodes}`,
    `${pad('cores_per_socket')}${p.coresPerSocket}`,
    `${pad('threads_per_core')}${p.threadsPerCore}`,
    `${pad('cpu_mhz')}${Math.floor(p.cpuKhz / 1000)}.${String(p.cpuKhz % 1000).padStart(3, '0')}`,
    `${pad('hw_caps')}${p.hwCap.map(hex8).join(':')}`,
    // "virt_caps              :%s%s…": no space after the colon of its own, each cap brings one.
    `${'virt_caps'.padEnd(23)}:${caps}`,
    `${pad('total_memory')}${mib(p.totalPages)}`,
    `${pad('free_memory')}${mib(p.freePages - p.outstandingPages)}`,
    `${pad('sharing_freed_memory')}0`,
    `${pad('sharing_used_memory')}0`,
    `${pad('outstanding_claims')}${mib(p.outstandingPages)}`,
    `${pad('free_cpus')}${p.freeCpus}`,
  ];
}

/** output_topologyinfo and output_numainfo (`xl info -n`): one socket, one node, no PCI devices. */
function numaLines(p: PhysInfo): string[] {
  const out = ['cpu_topology           :', 'cpu:    core    socket     node'];
  for (let c = 0; c < p.nrCpus; c++) out.push(`${String(c).padStart(3)}:    ${String(c).padStart(4)}     ${'0'.padStart(4)}     ${'0'.padStart(4)}`);
  out.push('device topology        :', 'device           node', 'No device topology data available');
  out.push('numa_info              :', 'node:    memsize    memfree    distances');
  // Sizes in bytes >> 20; the local distance is 10 (ACPI SLIT).
  out.push(`${'0'.padStart(4)}:    ${String(Math.floor(p.totalPages / 256)).padStart(6)}     ${String(Math.floor(p.freePages / 256)).padStart(6)}      10`);
  return out;
}

function xenLines(): string[] {
  const b = XEN_BUILD;
  return [
    `${pad('xen_major')}${XEN_VERSION_MAJOR}`,
    `${pad('xen_minor')}${XEN_VERSION_MINOR}`,
    `${pad('xen_extra')}${XEN_EXTRAVERSION}`,
    `${pad('xen_version')}${XEN_VERSION_MAJOR}.${XEN_VERSION_MINOR}${XEN_EXTRAVERSION}`,
    `${pad('xen_caps')}${b.caps}`,
    `${pad('xen_scheduler')}credit2`,
    `${pad('xen_pagesize')}${b.pagesize}`,
    `${pad('platform_params')}virt_start=0x${b.virtStart.toString(16)}`,
    `${pad('xen_changeset')}${b.changeset}`,
    `${pad('xen_commandline')}${b.commandline}`,
    `${pad('cc_compiler')}${b.compiler}`,
    `${pad('cc_compile_by')}${b.compileBy}`,
    `${pad('cc_compile_domain')}${b.compileDomain}`,
    `${pad('cc_compile_date')}${b.compileDate}`,
    `${pad('build_id')}${b.buildId}`,
  ];
}

/** main_info. With KEY, maybe_printf prints what follows ": " on every line that starts with KEY. */
export function xlInfo(lx: Libxl, args: string[]): InfoResult {
  let numa = false;
  const rest: string[] = [];
  for (const a of args) {
    if (a === '-n' || a === '--numa') numa = true;
    else if (a.startsWith('-')) return { code: 2, out: [], err: [optionNotSupported(a)] };
    else rest.push(a);
  }
  const key = numa ? undefined : rest[0];
  const u = DOM0_UTSNAME;
  const lines = [`${pad('host')}${u.nodename}`, `${pad('release')}${u.release}`, `${pad('version')}${u.version}`, `${pad('machine')}${u.machine}`];
  const err: string[] = [];
  const p = lx.xc.xc_physinfo?.();
  if (p) lines.push(...physLines(p));
  else err.push('libxl_physinfo failed.');
  // The -n tables are printf, not maybe_printf: only without KEY, which -n excludes anyway.
  if (numa && p) lines.push(...numaLines(p));
  lines.push(...xenLines(), `${pad('xend_config_format')}4`);
  if (key === undefined) return { code: 0, out: lines, err };
  const out: string[] = [];
  for (const l of lines) {
    const colon = l.indexOf(':');
    if (l.startsWith(key) && colon >= 0 && l[colon + 1] === ' ') out.push(l.slice(colon + 2));
  }
  return { code: 0, out, err };
}

/** print_bitmap (xl_utils.c): "all" when every bit of the map is set, "none" when none, else ranges "0-2,5". */
export function printBitmap(cpus: readonly number[], maplen: number): string {
  const set = new Set(cpus.filter((c) => c >= 0 && c < maplen));
  if (set.size === 0) return 'none';
  if (set.size === maplen) return 'all';
  const parts: string[] = [];
  for (let i = 0; i < maplen; i++) {
    if (!set.has(i)) continue;
    let j = i;
    while (j + 1 < maplen && set.has(j + 1)) j++;
    parts.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return parts.join(',');
}

export const VCPU_LIST_HEADER = `${'Name'.padEnd(32)} ${'ID'.padStart(5)} ${'VCPU'.padStart(5)} ${'CPU'.padStart(5)} ${'State'.padStart(5)} ${'Time(s)'.padStart(9)} Affinity (Hard / Soft)`;

/** main_vcpulist: the header, then each domain's vCPUs (every domain, or the ones named). */
export function* xlVcpuList(lx: Libxl, args: string[]): Co<InfoResult> {
  const r: InfoResult = { code: 0, out: [], err: [] };
  const bad = args.find((a) => a.startsWith('-'));
  if (bad !== undefined) return { code: 2, out: [], err: [optionNotSupported(bad)] };
  const p = lx.xc.xc_physinfo?.();
  if (!p || !lx.xc.xc_vcpu_getinfo) {
    // vcpulist: the message, then main_vcpulist returns EXIT_SUCCESS all the same.
    r.err.push('libxl_physinfo failed.');
    return r;
  }
  r.out.push(VCPU_LIST_HEADER);
  let domids: number[];
  if (args.length === 0) domids = lx.xc.xc_domain_getinfolist().map((d) => d.domid).sort((a, b) => a - b);
  else {
    domids = [];
    for (const a of args) {
      const id = /^\d+$/.test(a) ? Number(a) : yield* lx.nameToDomid(a);
      if (id === undefined) {
        // find_domain exits(1) where it is: the rows printed so far stay.
        yield* rows(lx, domids, p, r);
        r.err.push(`${a} is an invalid domain identifier (rc=-6)`);
        r.code = 1;
        return r;
      }
      domids.push(id);
    }
  }
  yield* rows(lx, domids, p, r);
  return r;
}

function* rows(lx: Libxl, domids: number[], p: PhysInfo, r: InfoResult): Co {
  for (const domid of domids) {
    const vcpus = lx.xc.xc_vcpu_getinfo!(domid);
    if (!vcpus) {
      // libxl_list_vcpu: xc_domain_getinfolist(domid, 1) finds the next domain up; with one, getting this domid's vCPUs fails.
      const higher = lx.xc.xc_domain_getinfolist().some((d) => d.domid > domid);
      r.err.push(higher
        ? libxlLine('error', 'libxl_list_vcpu_getinfo', domid, 'Getting vcpu info: No such process')
        : libxlLine('error', 'libxl_list_vcpu_infolist', domid, 'Getting infolist: No such process'));
      continue;
    }
    const name = (yield* lx.domidToName(domid)) ?? '(null)';
    for (const v of vcpus) {
      const head = `${name.padEnd(32)} ${String(domid).padStart(5)} ${String(v.vcpuid).padStart(5)}`;
      const state = v.online
        ? `${String(v.cpu).padStart(5)} ${(v.running ? 'r' : '-').padStart(3)}${v.blocked ? 'b' : '-'}- `
        : `${'-'.padStart(5)} ${'-'.padStart(3)}-p `;
      const time = `${(v.cpuTimeNs / 1e9).toFixed(1).padStart(9)}  `;
      r.out.push(`${head}${state}${time}${printBitmap(v.hard, p.maxCpuId + 1)} / ${printBitmap(v.soft, p.maxCpuId + 1)}`);
    }
  }
}
