// Debug key 'q' (xen/common/keyhandler.c: dump_domains, Xen 4.17): per
// domain its general information, rangesets, pages, NUMA affinity and
// vCPUs; then every guest vCPU is notified with VIRQ_DEBUG, and the memory
// sharing totals close the dump. Format strings are Xen's, with the x86
// hooks they call: arch_dump_domain_info / arch_dump_vcpu_info
// (mm/paging.c: paging_dump_*), rangeset_domain_printk (common/rangeset.c),
// dump_pageframe_info (arch/x86/domain.c), p2m_pod_dump_data,
// arch_dump_shared_mem_info (arch/x86/mm.c).
//
// What xenode models and what it prints instead (the rest is state it keeps):
// - every domain is PVH (dom0 included): HAP paging, "hap refcounts
//   translate external"; a vCPU that has run is in 64-bit long mode
//   ("hap, 4 levels"), one that never started has paging off (real mode:
//   "hap, 1 levels");
// - the host has no devices, so no domain holds I/O ports, memory or
//   interrupts: the three rangesets print empty;
// - xenode keeps no reference count on a domain: refcnt is 1, the domain
//   list's own reference (Xen's also counts in-flight users);
// - max_pages is tot_pages plus libxl's LIBXL_MAXMEM_CONSTANT (1 MiB) for a
//   guest, tot_pages for dom0; the only Xen heap page is shared_info;
// - one NUMA node; no periodic timers (xenode has no VCPUOP_set_periodic_timer).
// - dirty_cpu shows only for a running vCPU: Xen's lazy context switch can
//   leave a blocked vCPU's state on a CPU that went idle, xenode keeps no such state.
import { VIRQ } from '../abi/xen.ts';
import { bitmapList } from './debugkeys.ts';
import type { Domain } from './domain.ts';
import type { KeyHost } from './keyhandler.ts';
import type { Vcpu } from './vcpu.ts';

/** LIBXL_MAXMEM_CONSTANT (libxl_internal.h): the slack libxl adds to a guest's max_pages, in pages. */
const MAXMEM_SLACK_PAGES = 1024 / 4;
/** count_info of a Xen heap page shared with its guest: PGC_allocated | PGC_xen_heap | 1 (share_xen_page_with_guest). */
const XENPAGE_CAF = 'c000000000000001';
/** type_info of the same: PGT_writable_page | PGT_validated | 1. */
const XENPAGE_TAF = 'e400000000000001';

/** %*pbl of the CPUs in `cpus`. */
function cpuList(cpus: Iterable<number>): string {
  let mask = 0;
  for (const c of cpus) mask |= 1 << c;
  return bitmapList(mask >>> 0, 32);
}

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');

/** VPF_blocked (bit 0) and VPF_down (bit 1) of v->pause_flags. */
function pauseFlags(v: Vcpu): number {
  if (v.state === 'halted') return 1;
  if (v.state === 'down') return 2;
  return 0;
}

/** The lines of one domain (without the "(XEN) " prefix). */
export function domainInfoLines(d: Domain, host: KeyHost): string[] {
  const all = cpuList(Array.from({ length: host.nrCpus }, (_, i) => i));
  const running = d.vcpus.filter((v) => v.state === 'running' && !d.paused);
  const totPages = d.dying ? d.gnttab.foreignMapCount : Math.floor(d.memKiB / 4);
  const maxPages = d.host ? totPages : Math.floor(d.memKiB / 4) + MAXMEM_SLACK_PAGES;
  const out = [
    `General information for domain ${d.id}:`,
    `    refcnt=1 dying=${d.dying ? 1 : 0} pause_count=${d.paused ? 1 : 0}`,
    `    nr_pages=${totPages} xenheap_pages=1 dirty_cpus={${cpuList(running.map((v) => v.processor))}} max_pages=${maxPages}`,
    `    handle=${d.handle} vm_assist=00000000`,
    '    paging assistance: hap refcounts translate external ',
    `Rangesets belonging to domain ${d.id}:`,
    // rangeset_new prepends: the newest set (irq_caps) prints first; "%-10s {" then " }".
    '    Interrupts { }',
    '    I/O Memory { }',
    '    I/O Ports  { }',
    `Memory pages belonging to domain ${d.id}:`,
  ];
  // dump_pageframe_info lists each page only for a domain of < 10 pages; xenode has no per-page type counts, so it always summarizes.
  out.push('    DomPage list too long to display');
  out.push('    PoD entries=0 cachesize=0');
  out.push(`    XenPage ${hex(d.sharedInfoMfn, 16)}: caf=${XENPAGE_CAF}, taf=${XENPAGE_TAF}`);
  out.push(`NODE affinity for domain ${d.id}: [0]`);
  out.push(`VCPU information and callbacks for domain ${d.id}:`);
  for (const v of d.vcpus) {
    // Granularity "cpu": one unit per vCPU, unit_id = vcpu_id.
    out.push(`  UNIT${v.vcpuId} affinities: hard={${all}} soft={${all}}`);
    const isRunning = v.state === 'running' && !d.paused;
    const poll = v.pollPorts === undefined ? 0 : v.pollPorts.length === 1 ? v.pollPorts[0]! : -1;
    // upcall_mask prints !vcpu_event_delivery_is_enabled(v): for HVM/PVH, interrupts blocked (IF=0). Host vCPUs take upcalls.
    const mask = d.host ? 0 : v.IF ? 0 : 1;
    out.push(`    VCPU${v.vcpuId}: CPU${v.processor} [has=${isRunning ? 'T' : 'F'}] poll=${poll} upcall_pend=${hex(v.upcallPending ? 1 : 0, 2)} upcall_mask=${hex(mask, 2)} ${isRunning ? `dirty_cpu=${v.processor}` : ''}`);
    out.push(`    pause_count=0 pause_flags=${pauseFlags(v).toString(16)}`);
    out.push(`    paging assistance: hap, ${v.started ? 4 : 1} levels`);
    out.push('No periodic timer');
  }
  return out;
}

/**
 * The full 'q' output, every line prefixed "(XEN) ". With host.sideEffects,
 * VIRQ_DEBUG is sent to every vCPU of every domain that bound it, as Xen's
 * send_guest_vcpu_virq does (an unbound VIRQ is dropped).
 */
export function dumpDomains(key: string, domains: readonly Domain[], host: KeyHost): string {
  const doms = [...domains].sort((a, b) => a.id - b.id);
  const lines = [`'${key}' pressed -> dumping domain info (now = ${host.now})`];
  for (const d of doms) lines.push(...domainInfoLines(d, host));
  for (const d of doms) {
    for (const v of d.vcpus) {
      const port = d.evtchn.virqToPort(VIRQ.DEBUG, v.vcpuId);
      lines.push(`Notifying guest ${d.id}:${v.vcpuId} (virq ${VIRQ.DEBUG}, port ${port})`);
      if (host.sideEffects && port !== 0 && !d.dying) d.evtchn.sendVirq(VIRQ.DEBUG, v.vcpuId);
    }
  }
  // xenode has no memory sharing (mem_sharing_get_nr_shared_mfns / _saved_mfns are 0).
  lines.push('Shared frames 0 -- Saved frames 0');
  return lines.map((l) => `(XEN) ${l}\n`).join('');
}
