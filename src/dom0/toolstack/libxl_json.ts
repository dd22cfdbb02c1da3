// `xl list -l` (tools/xl/xl_info.c: list_domains_details): a JSON array of
// {"domid": N, "config": libxl_domain_config} for every domain whose
// configuration libxl can retrieve, printed by yajl's beautifier and puts().
//
// Two parts, kept apart:
// - yajlBeautify: yajl 2's generator with yajl_gen_beautify and its default
//   four-space indent (libxl_yajl_gen_alloc): "key": value, ",\n" between
//   items, and an empty map or array printed as "{\n\n<indent>}" (map_open
//   prints "{\n", map_close "\n<indent>}"); a final "\n" once complete.
// - domainConfigJson: libxl_domain_config as libxl_domain_config_gen_json
//   writes it (gentypes.py): fields in libxl_types.idl order; a nested struct
//   always, an array only if non-empty, a scalar only if it differs from its
//   default; defbools as "True"/"False", enums by lowercase name, the keyed
//   union under "type.pvh". The values are what xl's parse_config_data sets
//   for the keys xenode's cfg parser knows, updated as
//   libxl_retrieve_domain_configuration does (name, uuid, avail_vcpus,
//   memory, scheduler parameters from the running domain). Devices follow
//   retrieve's MERGE rule: xenstore (/libxl/DOMID/device) is the reference,
//   so a detached device is gone and a hot-plugged one (xl network-attach,
//   block-attach: libxl adds it to the stored JSON after its setdefault) is
//   there, with the keys libxl wrote for it; a device the config named gets
//   its MAC from xenstore. Keys of the cfg xenode does not interpret are not
//   reproduced; dom0 gets xen-init-dom0's stub.
import type { Co } from '../../sim/index.ts';
import type { DiskSpec, DomainConfig, OnEvent, VifSpec } from './cfg.ts';
import type { Libxl } from './libxl.ts';

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** yajl_gen with yajl_gen_beautify (see the header); the trailing "\n" is FINAL_NEWLINE. */
export function yajlBeautify(v: Json): string {
  return gen(v, 0) + '\n';
}

function gen(v: Json, depth: number): string {
  const ind = (d: number) => '    '.repeat(d);
  if (Array.isArray(v)) {
    if (v.length === 0) return `[\n\n${ind(depth)}]`;
    return `[\n${v.map((x) => ind(depth + 1) + gen(x, depth + 1)).join(',\n')}\n${ind(depth)}]`;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return `{\n\n${ind(depth)}}`;
    return `{\n${keys.map((k) => `${ind(depth + 1)}${JSON.stringify(k)}: ${gen(v[k]!, depth + 1)}`).join(',\n')}\n${ind(depth)}}`;
  }
  return JSON.stringify(v);
}

/** libxl_action_on_shutdown_to_string. */
const ACTION: Record<OnEvent, string> = {
  destroy: 'destroy', restart: 'restart', 'rename-restart': 'restart_rename', preserve: 'preserve',
  'coredump-destroy': 'coredump_destroy', 'coredump-restart': 'coredump_restart', 'soft-reset': 'soft_reset',
};

/** What the running domain says (libxl_retrieve_domain_configuration's updates). */
export interface RetrievedState {
  name: string;
  uuid: string | undefined;
  /** Online vCPUs (cpu/N/availability). */
  availVcpus: number[];
  targetKiB: number;
  maxKiB: number;
  /** The vifs and disks in xenstore now, by devid, with libxl's copy of their backend keys. */
  vifs: Map<number, Record<string, string>>;
  vbds: Map<number, Record<string, string>>;
}

function diskJson(d: DiskSpec): Json {
  const o: Record<string, Json> = {};
  if (d.backend !== 0) o['backend_domid'] = d.backend;
  o['pdev_path'] = d.target;
  o['vdev'] = d.vdev;
  o['format'] = d.format;
  if (d.script !== undefined) o['script'] = d.script;
  if (d.access === 'rw') o['readwrite'] = 1;
  if (d.devtype === 'cdrom') o['is_cdrom'] = 1;
  return o;
}

function nicJson(v: VifSpec, mac: string | undefined): Json {
  const o: Record<string, Json> = {};
  if (v.backend !== 0) o['backend_domid'] = v.backend;
  if (v.devid !== 0) o['devid'] = v.devid;
  if (v.mtu !== undefined) o['mtu'] = v.mtu;
  const m = v.mac ?? mac;
  if (m !== undefined) o['mac'] = m;
  if (v.ip !== undefined) o['ip'] = v.ip;
  o['bridge'] = v.bridge;
  if (v.vifname !== undefined) o['ifname'] = v.vifname;
  if (v.script !== undefined) o['script'] = v.script;
  return o;
}

/** A disk added after create, as libxl stored it (its backend keys). */
function hotplugDisk(devid: number, k: Record<string, string>): DiskSpec {
  return {
    devid, target: k['params'] ?? '', vdev: k['dev'] ?? '', format: 'raw', access: k['mode'] === 'w' ? 'rw' : 'ro',
    devtype: k['device-type'] === 'cdrom' ? 'cdrom' : 'disk', backend: 0, ...(k['script'] !== undefined ? { script: k['script'] } : {}),
  };
}

/** A vif added after create (xl network-attach), after libxl's setdefault: its script and bridge are explicit. */
function hotplugNic(devid: number, k: Record<string, string>): VifSpec {
  return {
    devid, bridge: k['bridge'] ?? 'xenbr0', backend: 0,
    ...(k['mac'] !== undefined ? { mac: k['mac'] } : {}), ...(k['ip'] !== undefined ? { ip: k['ip'] } : {}),
    ...(k['script'] !== undefined ? { script: k['script'] } : {}),
  };
}

/** credit2's libxl_domain_sched_params_get: weight and cap; the rest stay at their defaults (omitted). */
const SCHED: Json = { sched: 'credit2', weight: 256, cap: 0 };

/** A created domain's libxl_domain_config. */
export function domainConfigJson(cfg: DomainConfig, st: RetrievedState): Json {
  const c_info: Record<string, Json> = { type: cfg.type, name: st.name };
  if (st.uuid !== undefined) c_info['uuid'] = st.uuid;
  // xl.conf's run_hotplug_scripts (default 1), always set by parse_config_data.
  c_info['run_hotplug_scripts'] = 'True';
  const b_info: Record<string, Json> = {
    max_vcpus: cfg.vcpus,
    avail_vcpus: st.availVcpus,
    max_memkb: st.maxKiB,
    target_memkb: st.targetKiB,
    sched_params: SCHED,
    // xl.conf's claim_mode (default 0), always set.
    claim_mode: 'False',
  };
  if (cfg.kernel !== undefined) b_info['kernel'] = cfg.kernel;
  if (cfg.cmdline !== '') b_info['cmdline'] = cfg.cmdline;
  b_info[`type.${cfg.type}`] = {};
  b_info['arch_arm'] = {};
  b_info['arch_x86'] = {};
  const config: Record<string, Json> = { c_info, b_info };
  const disks = cfg.disks.filter((d) => st.vbds.has(d.devid));
  for (const [devid, k] of st.vbds) if (!disks.some((d) => d.devid === devid)) disks.push(hotplugDisk(devid, k));
  const vifs = cfg.vifs.filter((v) => st.vifs.has(v.devid));
  for (const [devid, k] of st.vifs) if (!vifs.some((v) => v.devid === devid)) vifs.push(hotplugNic(devid, k));
  if (disks.length > 0) config['disks'] = disks.map(diskJson);
  if (vifs.length > 0) config['nics'] = vifs.map((v) => nicJson(v, st.vifs.get(v.devid)?.['mac']));
  config['on_poweroff'] = ACTION[cfg.on_poweroff];
  config['on_reboot'] = ACTION[cfg.on_reboot];
  // xl's defaults for the two keys xenode's cfg does not read (parse_config_data).
  config['on_watchdog'] = 'destroy';
  config['on_crash'] = ACTION[cfg.on_crash];
  config['on_soft_reset'] = 'soft_reset';
  return config;
}

/** dom0: xen-init-dom0's stub (init-dom-json.c: type, nil uuid) with the retrieved name and scheduler. */
export function dom0ConfigJson(name: string): Json {
  return {
    c_info: { type: 'pvh', name },
    b_info: { sched_params: SCHED, 'type.pvh': {}, arch_arm: {}, arch_x86: {} },
  };
}

export interface ListLongResult {
  out: string;
  err: string[];
}

/** list_domains_details over `domids`: a domain without a stored configuration is skipped after libxl's error. */
export function* listLong(lx: Libxl, domids: number[]): Co<ListLongResult> {
  const items: Json[] = [];
  for (const domid of domids) {
    const name = (yield* lx.domidToName(domid)) ?? '';
    if (domid === 0) {
      items.push({ domid, config: dom0ConfigJson(name) });
      continue;
    }
    const cfg = lx.configs.get(domid);
    const info = lx.xc.xc_domain_getinfo(domid);
    if (!cfg || !info) continue;
    const vifs = yield* devices(lx, domid, 'vif');
    const vbds = yield* devices(lx, domid, 'vbd');
    const target = Number((yield* lx.xs.read(0, `/local/domain/${domid}/memory/target`)) ?? cfg.memory * 1024);
    const max = Number((yield* lx.xs.read(0, `/local/domain/${domid}/memory/static-max`)) ?? cfg.maxmem * 1024);
    const st: RetrievedState = {
      name, uuid: lx.uuids.get(domid), availVcpus: Array.from({ length: info.vcpus }, (_, i) => i), targetKiB: target, maxKiB: max, vifs, vbds,
    };
    items.push({ domid, config: domainConfigJson(cfg, st) });
  }
  // puts() adds its own newline after yajl's.
  return { out: yajlBeautify(items) + '\n', err: [] };
}

/** libxl__device_list: the devices of one kind in /libxl/DOMID/device, each with the keys libxl copied there. */
function* devices(lx: Libxl, domid: number, kind: 'vif' | 'vbd'): Co<Map<number, Record<string, string>>> {
  const out = new Map<number, Record<string, string>>();
  const base = `/libxl/${domid}/device/${kind}`;
  for (const id of (yield* lx.xs.directory(0, base)) ?? []) {
    if (!/^\d+$/.test(id)) continue;
    const keys: Record<string, string> = {};
    for (const k of ['params', 'dev', 'mode', 'device-type', 'script', 'mac', 'ip', 'bridge']) {
      const v = yield* lx.xs.read(0, `${base}/${id}/${k}`);
      if (v !== undefined) keys[k] = v;
    }
    out.set(Number(id), keys);
  }
  return out;
}
