import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../../src/machine/machine.ts';
import { printBitmap } from '../../../src/dom0/toolstack/xl_info.ts';
import { makeFixture } from './fixture.ts';
import { xlMain } from '../../../src/dom0/toolstack/xl.ts';

const t = suite('xl info, xl vcpu-list, debug keys q and r through xl dmesg');

/** A host without dom0's kernel; "g" has 2 vCPUs and no kernel (its vCPUs never start). */
function host(): Machine {
  const h = new Machine({ seed: 1, kernel: false });
  h.files.set('g.cfg', 'name = "g"\nmemory = 64\nvcpus = 2\n');
  assert.is(h.xlSync('create g.cfg').code, 0);
  return h;
}

t("golden: xl info — xl's keys in order, padded to 23 columns, values from the emulated host", () => {
  const h = host();
  const r = h.xlSync('info');
  assert.equal([r.code, r.stderr], [0, '']);
  // 4 GiB of RAM; dom0 2879.5 MiB, g 64 MiB, one Xen heap frame each: floor((1048576 - 737152 - 16384 - 2) / 256) = 1152.
  assert.is(r.stdout, [
    'host                   : xenode',
    'release                : 6.1.0-xenode-amd64',
    'version                : #1 SMP PREEMPT_DYNAMIC xenode',
    'machine                : x86_64',
    'nr_cpus                : 4',
    'max_cpu_id             : 3',
    'nr_nodes               : 1',
    'cores_per_socket       : 4',
    'threads_per_core       : 1',
    'cpu_mhz                : 1000.000',
    'hw_caps                : 00000000:00000000:00000000:00000000:00000000:00000000:00000000:00000000',
    'virt_caps              : hvm hap gnttab-v1',
    'total_memory           : 4096',
    'free_memory            : 1152',
    'sharing_freed_memory   : 0',
    'sharing_used_memory    : 0',
    'outstanding_claims     : 0',
    'free_cpus              : 0',
    'xen_major              : 4',
    'xen_minor              : 17',
    'xen_extra              : .0',
    'xen_version            : 4.17.0',
    'xen_caps               : hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64',
    'xen_scheduler          : credit2',
    'xen_pagesize           : 4096',
    'platform_params        : virt_start=0xffff800000000000',
    'xen_changeset          : unavailable',
    'xen_commandline        : ',
    'cc_compiler            : xenode (TypeScript)',
    'cc_compile_by          : xenode',
    'cc_compile_domain      : ',
    'cc_compile_date        : ',
    'build_id               : ',
    'xend_config_format     : 4',
  ].map((l) => l + '\n').join(''));
});

t('xl info KEY prints the value of every key starting with KEY; -n adds the topology tables', () => {
  const h = host();
  assert.is(h.xlSync('info xen_version').stdout, '4.17.0\n');
  assert.is(h.xlSync('info xen_').stdout.split('\n').length, 10, 'nine xen_* keys (xend_config_format does not start with xen_)');
  assert.is(h.xlSync('info nosuch').stdout, '');
  const n = h.xlSync('info -n').stdout;
  assert.ok(n.includes('free_cpus              : 0\ncpu_topology           :\ncpu:    core    socket     node\n  0:       0        0        0\n'));
  assert.ok(n.includes('numa_info              :\nnode:    memsize    memfree    distances\n   0:      4096       1152      10\nxen_major'));
  assert.equal([h.xlSync('info -x').code, h.xlSync('info -x').stderr], [2, "option `x' not supported.\n"]);
  // Memory follows the domains: destroying g frees its 64 MiB.
  assert.is(h.xlSync('destroy g').code, 0);
  assert.is(h.xlSync('info free_memory').stdout, '1216\n');
});

t("golden: xl vcpu-list — xl's header and rows; a never-started vCPU is offline", () => {
  const h = host();
  const r = h.xlSync('vcpu-list');
  assert.equal([r.code, r.stderr], [0, '']);
  assert.is(r.stdout, [
    'Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)',
    'Domain-0                             0     0    0   r--       0.0  all / all',
    'Domain-0                             0     1    1   r--       0.0  all / all',
    'Domain-0                             0     2    2   r--       0.0  all / all',
    'Domain-0                             0     3    3   r--       0.0  all / all',
    'g                                    1     0    -   --p       0.0  all / all',
    'g                                    1     1    -   --p       0.0  all / all',
  ].map((l) => l + '\n').join(''));
  const one = h.xlSync('vcpu-list g');
  assert.is(one.stdout.split('\n').length, 4);
  const bad = h.xlSync('vcpu-list g nosuch');
  assert.equal([bad.code, bad.stderr], [1, 'nosuch is an invalid domain identifier (rc=-6)\n']);
  assert.is(bad.stdout, one.stdout, 'the rows before the bad name stay, as xl exits there');
  const gone = h.xlSync('vcpu-list 7');
  assert.equal([gone.code, gone.stderr], [0, 'libxl: error: libxl_domain.c:1667:libxl_list_vcpu: Domain 7:Getting infolist: No such process\n']);
});

t('a running unikernel: vcpu-list shows it blocked on its CPU; q and r land in xl dmesg, xl prints nothing', async () => {
  const h = new Machine({ seed: 2, kernel: false });
  h.files.set('hello.cfg', 'name="hello"\nkernel="kernels/ring.ts"\nmemory=32\n');
  assert.is((await h.xl('create hello.cfg')).code, 0);
  h.sim.run({ until: h.sim.now + 1e9 });
  assert.ok(h.xlSync('vcpu-list hello').stdout.endsWith('\nhello                                1     0    0   -b-       0.0  all / all\n'));
  const dk = h.xlSync('debug-keys qr');
  assert.equal([dk.code, dk.stdout, dk.stderr], [0, '', '']);
  const d = h.xlSync('dmesg').stdout;
  assert.match(d, /^\(XEN\) 'q' pressed -> dumping domain info \(now = 1\d{9}\)$/m);
  assert.match(d, /^\(XEN\) General information for domain 1:$/m);
  assert.match(d, new RegExp(`^\\(XEN\\)     handle=${h.libxl.uuids.get(1)} vm_assist=00000000$`, 'm'));
  assert.match(d, /^\(XEN\)     VCPU0: CPU0 \[has=F\] poll=0 upcall_pend=0[01] upcall_mask=00 $/m);
  assert.match(d, /^\(XEN\) Notifying guest 1:0 \(virq 1, port 0\)$/m);
  assert.match(d, /^\(XEN\) Scheduler: SMP Credit Scheduler rev2 \(credit2\)$/m);
  assert.match(d, /^\(XEN\) \tDomain: 1 w 256 c 0 v 1$/m);
  assert.not.match(d, /'r' pressed/);
});

t('print_bitmap: all, none, ranges', () => {
  assert.is(printBitmap([0, 1, 2, 3], 4), 'all');
  assert.is(printBitmap([], 4), 'none');
  assert.is(printBitmap([0, 1, 3], 4), '0-1,3');
  assert.is(printBitmap([1, 2, 3], 4), '1-3');
});

t('a libxc without physinfo: xl says so, as when the sysctl fails, and exits 0 as xl does', () => {
  const f = makeFixture();
  const env = { libxl: f.libxl, readFile: () => undefined };
  const r = f.run(() => xlMain(env, ['vcpu-list']));
  assert.equal([r.code, r.stdout, r.stderr], [0, '', 'libxl_physinfo failed.\n']);
  const i = f.run(() => xlMain(env, ['info', 'host']));
  assert.equal([i.code, i.stdout, i.stderr], [0, 'xenode\n', 'libxl_physinfo failed.\n']);
});

t.run();
