// libxl's log lines. Shape (docs/architecture.md §5.6):
//   libxl: error: <file>:<line>:<function>: Domain <domid>:<message>
// No space after "Domain N:". The file:line of each call site is the Xen 4.11
// build's where the reference quotes it (device_backend_callback,
// devices_destroy_cb, domcreate_launch_dm, libxl__destroy_domid,
// domain_destroy_callback, domain_destroy_cb); the other sites (device model
// spawn, domid allocation) carry the function name with a line number of the
// same era, marked below as not verified.

export interface LogSite {
  file: string;
  line: number;
  fn: string;
}

export const SITES = {
  device_backend_callback: { file: 'libxl_device.c', line: 1080, fn: 'device_backend_callback' },
  devices_destroy_cb: { file: 'libxl_domain.c', line: 1073, fn: 'devices_destroy_cb' },
  domcreate_launch_dm: { file: 'libxl_create.c', line: 1278, fn: 'domcreate_launch_dm' },
  libxl__destroy_domid: { file: 'libxl_domain.c', line: 1000, fn: 'libxl__destroy_domid' },
  domain_destroy_callback: { file: 'libxl_domain.c', line: 959, fn: 'domain_destroy_callback' },
  domain_destroy_cb: { file: 'libxl_domain.c', line: 886, fn: 'domain_destroy_cb' },
  // Xen 4.17 (more-abi-and-formats.md §3.6):
  libxl_domain_pause: { file: 'libxl_domain.c', line: 587, fn: 'libxl_domain_pause' },
  pvcontrol_cb: { file: 'libxl_domain.c', line: 854, fn: 'pvcontrol_cb' },
  // Not verified against a 4.11 build (function names are libxl's):
  libxl_domain_unpause: { file: 'libxl_domain.c', line: 625, fn: 'libxl_domain_unpause' },
  domcreate_devmodel_started: { file: 'libxl_create.c', line: 1513, fn: 'domcreate_devmodel_started' },
  device_model_spawn_outcome: { file: 'libxl_dm.c', line: 2404, fn: 'device_model_spawn_outcome' },
  libxl__spawn_spawn: { file: 'libxl_exec.c', line: 1145, fn: 'spawn_watch_event' },
  libxl__domain_make: { file: 'libxl_create.c', line: 571, fn: 'libxl__domain_make' },
  domcreate_rebuild_done: { file: 'libxl_create.c', line: 1204, fn: 'domcreate_rebuild_done' },
  libxl_domain_info: { file: 'libxl_domain.c', line: 357, fn: 'libxl_domain_info' },
  // Xen 4.17 libxl_domain.c: libxl_list_vcpu's two LOGED sites.
  libxl_list_vcpu_infolist: { file: 'libxl_domain.c', line: 1667, fn: 'libxl_list_vcpu' },
  libxl_list_vcpu_getinfo: { file: 'libxl_domain.c', line: 1691, fn: 'libxl_list_vcpu' },
  libxl__initiate_device_generic_remove: { file: 'libxl_device.c', line: 941, fn: 'libxl__initiate_device_generic_remove' },
  domain_destroy_domid_cb: { file: 'libxl_domain.c', line: 1138, fn: 'domain_destroy_domid_cb' },
} as const satisfies Record<string, LogSite>;

export type SiteName = keyof typeof SITES;

export function libxlLine(level: 'error' | 'warning' | 'debug', site: SiteName, domid: number | undefined, msg: string): string {
  const s = SITES[site];
  const dom = domid === undefined ? '' : `Domain ${domid}:`;
  return `libxl: ${level}: ${s.file}:${s.line}:${s.fn}: ${dom}${msg}`;
}
