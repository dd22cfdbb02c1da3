// Debug key 'r' (xen/common/sched/cpupool.c: dump_runq, core.c:
// schedule_dump, credit2.c: csched2_dump and dump_pcpu; Xen 4.17, whose
// default scheduler is credit2). Unlike the other keys it prints no
// "'r' pressed" line.
//
// xenode's host: nrCpus CPUs, one socket, one thread per core, all online in
// cpupool 0 with "cpu" granularity, credit2 with one runqueue (runqueue=socket).
// Each vCPU stays on the pCPU it was placed on (Vcpu.processor). What credit2
// would have measured, xenode does not: virtual time does not pass while
// code runs, so no unit ever burns credit (credit stays CSCHED2_CREDIT_INIT)
// and a unit's load average is its limit for the state it is in now
// (runnable or running: 1 << 18 = 100%, else 0).
import type { Domain } from './domain.ts';
import type { KeyHost } from './keyhandler.ts';
import type { Vcpu } from './vcpu.ts';

/** CSCHED2_DEFAULT_WEIGHT. */
const DEFAULT_WEIGHT = 256;
/** CSCHED2_CREDIT_INIT: 10 ms of credit. */
const CREDIT_INIT = 10_000_000;
/** LOADAVG_PRECISION_SHIFT (credit2_load_precision_shift default). */
const PRECISION_SHIFT = 18;
/** CSFLAG_scheduled: the unit is on a pCPU. */
const CSFLAG_SCHEDULED = 1 << 1;

/** %*pbl of a CPU mask. */
function pbl(mask: number, nrCpus: number): string {
  const parts: string[] = [];
  for (let i = 0; i < nrCpus; i++) {
    if (((mask >>> i) & 1) === 0) continue;
    let j = i;
    while (j + 1 < nrCpus && ((mask >>> (j + 1)) & 1) === 1) j++;
    parts.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return parts.join(',');
}

/** %*pb of a CPU mask: hex, zero-padded to the nibbles of nr_cpu_ids bits (≤ 32 CPUs: one chunk). */
function pb(mask: number, nrCpus: number): string {
  const chunks: string[] = [];
  for (let base = Math.ceil(nrCpus / 32) * 32 - 32; base >= 0; base -= 32) {
    const bits = Math.min(32, nrCpus - base);
    const val = base >= 32 ? 0 : (mask >>> base) & (bits === 32 ? 0xffffffff : (1 << bits) - 1);
    chunks.push((val >>> 0).toString(16).padStart(Math.ceil(bits / 4), '0'));
  }
  return chunks.join(',');
}

const onCpu = (v: Vcpu) => v.state === 'running' && !v.dom.paused && !v.dom.dying;
const runnable = (v: Vcpu) => v.state === 'runnable' && !v.dom.paused && !v.dom.dying;

/** csched2_dump_unit: "[d.u] flags=… cpu=… credit=… [w=…] load=… (~…%)". */
function unitLine(v: Vcpu, current: boolean): string {
  const load = onCpu(v) || runnable(v) ? 1 << PRECISION_SHIFT : 0;
  return `[${v.dom.id}.${v.vcpuId}] flags=${(current ? CSFLAG_SCHEDULED : 0).toString(16)} cpu=${v.processor} credit=${CREDIT_INIT} [w=${DEFAULT_WEIGHT}] load=${load} (~${(load * 100) / 2 ** PRECISION_SHIFT}%)`;
}

/** The full 'r' output, every line prefixed "(XEN) ". */
export function dumpRunq(domains: readonly Domain[], host: KeyHost): string {
  const n = host.nrCpus;
  const all = n >= 32 ? 0xffffffff : (1 << n) - 1;
  const doms = [...domains].filter((d) => !d.dying).sort((a, b) => a.id - b.id);
  const vcpus = doms.flatMap((d) => d.vcpus);
  // Per pCPU: the first vCPU placed on it that is running (the one "current" there).
  const current: (Vcpu | undefined)[] = [];
  for (let c = 0; c < n; c++) current.push(vcpus.find((v) => v.processor === c && onCpu(v)));
  let idle = 0;
  for (let c = 0; c < n; c++) if (!current[c]) idle |= 1 << c;
  const busy = vcpus.filter((v) => onCpu(v) || runnable(v)).length;
  const pv = (v: Vcpu | undefined, c: number) => (v ? `d${v.dom.id}v${v.vcpuId}` : `d[IDLE]v${c}`);
  const lines = [
    'sched_smt_power_savings: disabled',
    `NOW=${host.now}`,
    `Online Cpus: ${pbl(all, n)}`,
    'Cpupool 0:',
    `Cpus: ${pbl(all, n)}`,
    'Scheduling granularity: cpu, 1 CPU per sched-resource',
    'Scheduler: SMP Credit Scheduler rev2 (credit2)',
    'Active queues: 1',
    `\tdefault-weight     = ${DEFAULT_WEIGHT}`,
    'Runqueue 0:',
    `\tncpus              = ${n}`,
    `\tcpus               = ${pbl(all, n)}`,
    `\tmax_weight         = ${DEFAULT_WEIGHT}`,
    '\tpick_bias          = 0',
    `\tinstload           = ${busy}`,
    `\taveload            = ${busy << PRECISION_SHIFT} (~${busy * 100}%)`,
    `\tidlers: ${pb(idle, n)}`,
    `\ttickled: ${pb(0, n)}`,
    // One thread per core: a core is fully idle when its CPU is.
    `\tfully idle cores: ${pb(idle, n)}`,
    'Domain info:',
  ];
  let loop = 0;
  for (const d of doms) {
    lines.push(`\tDomain: ${d.id} w ${DEFAULT_WEIGHT} c 0 v ${d.vcpus.length}`);
    for (const v of d.vcpus) lines.push(`\t${String(++loop).padStart(3)}: ${unitLine(v, current[v.processor] === v)}`);
  }
  lines.push('Runqueue 0:');
  for (let c = 0; c < n; c++) {
    // One socket of n cores, one thread each: sibling = the CPU itself, core mask = the socket's CPUs.
    lines.push(`CPU[${String(c).padStart(2, '0')}] runq=0, sibling={${c}}, core={${pbl(all, n)}}`);
    const cur = current[c];
    if (cur) lines.push(`\trun: ${unitLine(cur, true)}`);
  }
  lines.push('RUNQ:');
  // The runqueue holds the units that are runnable and not on a pCPU, in the order they would run.
  let q = 0;
  for (const v of vcpus) if (runnable(v)) lines.push(`\t${String(q++).padStart(3)}: ${unitLine(v, false)}`);
  lines.push('CPUs info:');
  for (let c = 0; c < n; c++) {
    const cur = current[c];
    lines.push(`CPU[${String(c).padStart(2, '0')}] current=${pv(cur, c)}, curr=${pv(cur, c)}, prev=NULL`);
  }
  return lines.map((l) => `(XEN) ${l}\n`).join('');
}
