// Xen's public guest ABI as xenode uses it: numbers and x86_64 layouts from
// xen/include/public (xen.h, event_channel.h, sched.h, hvm/*.h, memory.h,
// grant_table.h, arch-x86/hvm/start_info.h). Shared by the hypervisor and the
// guest runtime, like xen/include/public. Pure data: no code with effects.
// The rules these numbers serve: docs/architecture.md §4.1 (event channels), §5.4 (grants).

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/** Hypercall numbers (public/xen.h). */
export const HYPERVISOR = {
  memory_op: 12,
  set_timer_op: 15,
  xen_version: 17,
  console_io: 18,
  grant_table_op: 20,
  vcpu_op: 24,
  sched_op: 29,
  event_channel_op: 32,
  hvm_op: 34,
} as const;

/** Xen errno values (public/errno.h, Linux numbering); hypercalls return -E*. */
export const XEN_E = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, E2BIG: 7, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14,
  EBUSY: 16, EEXIST: 17, EINVAL: 22, ENOSPC: 28, ENOSYS: 38, EOPNOTSUPP: 95,
} as const;

export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;

// --- console_io ---
export const CONSOLEIO_write = 0;
export const CONSOLEIO_read = 1;

// --- xen_version ---
export const XENVER_version = 0;

// --- sched_op (public/sched.h) ---
export const SCHEDOP = { yield: 0, block: 1, shutdown: 2, poll: 3, remote_shutdown: 4, shutdown_code: 5, watchdog: 6 } as const;
export const SHUTDOWN = { poweroff: 0, reboot: 1, suspend: 2, crash: 3, watchdog: 4, soft_reset: 5 } as const;
/** SHUTDOWN_* names by reason code (sched.h). */
export const SHUTDOWN_NAMES: readonly string[] = ['poweroff', 'reboot', 'suspend', 'crash', 'watchdog', 'soft_reset'];
/** struct sched_shutdown { uint32 reason; } */
export const SCHED_SHUTDOWN = { size: 4, reason: 0 } as const;
/** struct sched_poll { XEN_GUEST_HANDLE(evtchn_port_t) ports @0; uint32 nr_ports @8; uint64 timeout @16; } */
export const SCHED_POLL = { size: 24, ports: 0, nr_ports: 8, timeout: 16 } as const;

// --- hvm_op (public/hvm/hvm_op.h, params.h) ---
export const HVMOP = { set_param: 0, get_param: 1, set_evtchn_upcall_vector: 23 } as const;
export const HVM_PARAM = { CALLBACK_IRQ: 0, STORE_PFN: 1, STORE_EVTCHN: 2, CONSOLE_PFN: 17, CONSOLE_EVTCHN: 18 } as const;
/** CALLBACK_IRQ value: type in bits 63:56. */
export const HVM_PARAM_CALLBACK_TYPE = { GSI: 0, PCI_INTX: 1, VECTOR: 2 } as const;
/** struct xen_hvm_param { domid_t domid @0; uint32 index @4; uint64 value @8; } */
export const XEN_HVM_PARAM = { size: 16, domid: 0, index: 4, value: 8 } as const;
/** struct xen_hvm_evtchn_upcall_vector { uint32 vcpu @0; uint8 vector @4; } */
export const XEN_HVM_EVTCHN_UPCALL_VECTOR = { size: 8, vcpu: 0, vector: 4 } as const;
/** Vectors below 0x10 are rejected by HVMOP_set_evtchn_upcall_vector. */
export const UPCALL_VECTOR_MIN = 0x10;

// --- memory_op (public/memory.h) ---
export const XENMEM_add_to_physmap = 7;
export const XENMAPSPACE = { shared_info: 0, grant_table: 1 } as const;
/** struct xen_add_to_physmap { domid_t domid @0; uint16 size @2; uint32 space @4; xen_ulong_t idx @8; xen_pfn_t gpfn @16; } */
export const XEN_ADD_TO_PHYSMAP = { size: 24, domid: 0, sz: 2, space: 4, idx: 8, gpfn: 16 } as const;

// --- vcpu_info / shared_info (x86_64) ---
export const XEN_LEGACY_MAX_VCPUS = 32;
export const VCPU_INFO = {
  size: 64,
  evtchn_upcall_pending: 0,
  evtchn_upcall_mask: 1,
  evtchn_pending_sel: 8,
  arch_cr2: 16,
  time: 32,
} as const;
/** struct vcpu_time_info, at vcpu_info + 32. */
export const VCPU_TIME_INFO = {
  version: 0, tsc_timestamp: 8, system_time: 16, tsc_to_system_mul: 24, tsc_shift: 28, flags: 29,
} as const;
export const SHARED_INFO = {
  vcpu_info: 0,
  evtchn_pending: 2048,
  evtchn_mask: 2560,
  wc_version: 3072,
  wc_sec: 3076,
  wc_nsec: 3080,
  wc_sec_hi: 3084,
  arch: 3088,
} as const;

// --- event channels (public/event_channel.h; xen/include/xen/sched.h) ---
export const EVTCHN_2L_NR_CHANNELS = 4096;
export const EVTCHNOP = {
  bind_interdomain: 0, bind_virq: 1, bind_pirq: 2, close: 3, send: 4, status: 5,
  alloc_unbound: 6, bind_ipi: 7, bind_vcpu: 8, unmask: 9, reset: 10,
} as const;
/** Channel states as Xen numbers them (the s= of the 'e' dump). */
export const ECS = { FREE: 0, RESERVED: 1, UNBOUND: 2, INTERDOMAIN: 3, PIRQ: 4, VIRQ: 5, IPI: 6 } as const;
export const EVTCHNSTAT = { closed: 0, unbound: 1, interdomain: 2, pirq: 3, virq: 4, ipi: 5 } as const;
export const VIRQ = { TIMER: 0, DEBUG: 1, CONSOLE: 2, DOM_EXC: 3 } as const;
export const NR_VIRQS = 24;
/** Global VIRQs must be bound on vCPU 0. */
export const VIRQ_IS_GLOBAL: readonly boolean[] = [false, false, true, true];

/** struct evtchn_alloc_unbound { domid_t dom @0, remote_dom @2; evtchn_port_t port @4 (OUT); } */
export const EVTCHN_ALLOC_UNBOUND = { size: 8, dom: 0, remote_dom: 2, port: 4 } as const;
/** struct evtchn_bind_interdomain { domid_t remote_dom @0; port remote_port @4; port local_port @8 (OUT); } */
export const EVTCHN_BIND_INTERDOMAIN = { size: 12, remote_dom: 0, remote_port: 4, local_port: 8 } as const;
/** struct evtchn_bind_virq { uint32 virq @0, vcpu @4; port @8 (OUT); } */
export const EVTCHN_BIND_VIRQ = { size: 12, virq: 0, vcpu: 4, port: 8 } as const;
/** struct evtchn_bind_ipi { uint32 vcpu @0; port @4 (OUT); } */
export const EVTCHN_BIND_IPI = { size: 8, vcpu: 0, port: 4 } as const;
/** struct evtchn_close / evtchn_send / evtchn_unmask { port @0; } */
export const EVTCHN_PORT_ARG = { size: 4, port: 0 } as const;
/** struct evtchn_bind_vcpu { port @0; uint32 vcpu @4; } */
export const EVTCHN_BIND_VCPU = { size: 8, port: 0, vcpu: 4 } as const;
/**
 * struct evtchn_status { domid_t dom @0; port @4; uint32 status @8 (OUT); uint32 vcpu @12 (OUT);
 * union @16 { unbound.dom u16; interdomain { dom u16 @16; port u32 @20 }; pirq u32; virq u32 } }
 */
export const EVTCHN_STATUS = { size: 24, dom: 0, port: 4, status: 8, vcpu: 12, u: 16, u_port: 20 } as const;

// --- grant tables v1 (public/grant_table.h) ---
export const GNTTABOP = {
  map_grant_ref: 0, unmap_grant_ref: 1, setup_table: 2, dump_table: 3, transfer: 4, copy: 5,
  query_size: 6, unmap_and_replace: 7, set_version: 8, get_status_frames: 9, get_version: 10,
  swap_grant_ref: 11, cache_flush: 12,
} as const;
/** struct grant_entry_v1 { uint16 flags @0; domid_t domid @2; uint32 frame @4; } (8 bytes, 512 per frame) */
export const GRANT_ENTRY_V1 = { size: 8, flags: 0, domid: 2, frame: 4 } as const;
export const GTF = {
  invalid: 0, permit_access: 1, accept_transfer: 2, transitive: 3, type_mask: 3,
  readonly: 4, reading: 8, writing: 16, sub_page: 256,
} as const;
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
export const GNTTAB_RESERVED_CONSOLE = 0;
export const GNTTAB_RESERVED_XENSTORE = 1;
export const GNTMAP = { device_map: 1, host_map: 2, readonly: 4 } as const;
/** struct gnttab_map_grant_ref (32 bytes). */
export const GNTTAB_MAP_GRANT_REF = { size: 32, host_addr: 0, flags: 8, ref: 12, dom: 16, status: 18, handle: 20, dev_bus_addr: 24 } as const;
/** struct gnttab_unmap_grant_ref (24 bytes). */
export const GNTTAB_UNMAP_GRANT_REF = { size: 24, host_addr: 0, dev_bus_addr: 8, handle: 16, status: 20 } as const;
/**
 * struct gnttab_copy (40 bytes): source { union { grant_ref_t ref; xen_pfn_t gmfn } u @0; domid_t domid @8; uint16 offset @10 }
 * @0, dest (same, 16 bytes) @16, uint16 len @32, uint16 flags @34, int16 status @36.
 */
export const GNTTAB_COPY = { size: 40, source: 0, dest: 16, ptr_u: 0, ptr_domid: 8, ptr_offset: 10, len: 32, flags: 34, status: 36 } as const;
export const GNTCOPY = { source_gref: 1, dest_gref: 2 } as const;
/** struct gnttab_setup_table { domid_t dom @0; uint32 nr_frames @4; int16 status @8; XEN_GUEST_HANDLE(xen_pfn_t) frame_list @16; } */
export const GNTTAB_SETUP_TABLE = { size: 24, dom: 0, nr_frames: 4, status: 8, frame_list: 16 } as const;
export const GNTST = {
  okay: 0, general_error: -1, bad_domain: -2, bad_gntref: -3, bad_handle: -4, bad_virt_addr: -5,
  bad_dev_addr: -6, no_device_space: -7, permission_denied: -8, bad_page: -9, bad_copy_arg: -10,
  address_too_big: -11, eagain: -12, no_space: -13,
} as const;

// --- PVH start of day (arch-x86/hvm/start_info.h) ---
export const XEN_HVM_START_MAGIC_VALUE = 0x336ec578;
/** struct hvm_start_info (56 bytes); the PVH entry point gets its address in %ebx. */
export const HVM_START_INFO = {
  size: 56, magic: 0, version: 4, flags: 8, nr_modules: 12, modlist_paddr: 16, cmdline_paddr: 24,
  rsdp_paddr: 32, memmap_paddr: 40, memmap_entries: 48,
} as const;

// --- XenBus states (public/io/xenbus.h) ---
export const XenbusState = {
  Unknown: 0, Initialising: 1, InitWait: 2, Initialised: 3, Connected: 4, Closing: 5, Closed: 6,
  Reconfiguring: 7, Reconfigured: 8,
} as const;
export type XenbusStateT = (typeof XenbusState)[keyof typeof XenbusState];

// --- additions used by the emulated hypervisor (src/xen) ---
/** xen_version(XENVER_version): (major << 16) | minor; xenode reports 4.17. */
export const XEN_VERSION_MAJOR = 4;
export const XEN_VERSION_MINOR = 17;
/** XENVER_extraversion: the point release (Xen 4.17.0). */
export const XEN_EXTRAVERSION = '.0';
/** struct gnttab_query_size { domid_t dom @0; uint32 nr_frames @4; uint32 max_nr_frames @8; int16 status @12; } */
export const GNTTAB_QUERY_SIZE = { size: 16, dom: 0, nr_frames: 4, max_nr_frames: 8, status: 12 } as const;
/** Grant entries per 4 KiB frame (v1). */
export const GNTTAB_ENTRIES_PER_FRAME = 512;
/** XENMEM_add_to_physmap idx bit asking for a v2 status frame (unsupported with v1). */
export const XENMAPIDX_grant_table_status = 0x80000000;
/** Number of HVM params (public/hvm/params.h HVM_NR_PARAMS, Xen 4.17). */
export const HVM_NR_PARAMS = 39;
/** SCHEDOP_poll: at most this many ports (Xen's limit). */
export const SCHED_POLL_MAX_PORTS = 128;
/** struct sched_remote_shutdown { domid_t domain_id @0; uint32 reason @4; } */
export const SCHED_REMOTE_SHUTDOWN = { size: 8, domain_id: 0, reason: 4 } as const;
/** vcpu_info / shared_info offsets in 32-bit words (little-endian halves of the 64-bit fields). */
export const SHARED_INFO_U32 = {
  /** vcpu_info of vCPU v starts at word v * 16. */
  vcpuStride: 16,
  /** evtchn_pending_sel low half, relative to the vcpu_info. */
  pendingSel: 2,
  pending: 512,
  mask: 640,
} as const;
