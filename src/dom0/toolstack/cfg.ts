// xl.cfg: the domain configuration file `xl create` reads (xl.cfg(5)), for the
// subset xenode's toolstack understands.
//
// Grammar (libxlu's cfg parser): statements `KEY = VALUE` separated by
// newlines or `;`; VALUE is a number, a quoted string ('…' or "…", with C
// escapes) or a list `[ VALUE, … ]` (trailing comma allowed, may span lines);
// `#` starts a comment. A syntax error is reported as xl does it:
//   FILE:LINE: config parsing error near `TOKEN': syntax error, …
// and semantic errors (a bad memory value, an unknown vif key) as
//   FILE:LINE: MESSAGE
// where LINE is the line of the offending statement.

export type CfgValue = string | number | CfgValue[];

export interface VifSpec {
  mac?: string;
  bridge: string;
  ip?: string;
  script?: string;
  vifname?: string;
  rate?: string;
  mtu?: number;
  backend: number;
  /** Index in the vif list: the device id (handle). */
  devid: number;
}

export interface DiskSpec {
  target: string;
  vdev: string;
  /** Xen virtual device number: xvda = (202 << 8) | 0 = 51712. */
  devid: number;
  format: 'raw' | 'qcow2' | 'vhd';
  access: 'rw' | 'ro';
  devtype: 'disk' | 'cdrom';
  backend: number;
  script?: string;
}

export type OnEvent = 'destroy' | 'restart' | 'preserve' | 'coredump-destroy' | 'coredump-restart' | 'rename-restart' | 'soft-reset';

export interface DomainConfig {
  name: string;
  type: 'pvh' | 'pv' | 'hvm';
  kernel?: string;
  /** MiB, as in the file. */
  memory: number;
  maxmem: number;
  vcpus: number;
  uuid?: string;
  cmdline: string;
  vifs: VifSpec[];
  disks: DiskSpec[];
  on_poweroff: OnEvent;
  on_reboot: OnEvent;
  on_crash: OnEvent;
  /** Run the device model in a stub domain (xl.cfg device_model_stubdomain_override). */
  stubdom: boolean;
  /** Anything else the file set (kept, not interpreted). */
  extra: Record<string, CfgValue>;
  /** Line of each key (1-based), for semantic error messages. */
  lines: Record<string, number>;
}

export class CfgError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
  }
}

type Tok =
  | { t: 'id'; v: string; line: number }
  | { t: 'num'; v: number; raw: string; line: number }
  | { t: 'str'; v: string; raw: string; line: number }
  | { t: 'punct'; v: '=' | '[' | ']' | ',' | ';' | '+='; line: number }
  | { t: 'nl'; line: number }
  | { t: 'eof'; line: number };

function tokName(k: Tok): string {
  switch (k.t) {
    case 'id': return 'IDENT';
    case 'num': return 'NUMBER';
    case 'str': return 'STRING';
    case 'nl': return 'NEWLINE';
    case 'eof': return '$end';
    default: return `'${k.v}'`;
  }
}

function tokText(k: Tok): string {
  switch (k.t) {
    case 'id': return k.v;
    case 'num': return k.raw;
    case 'str': return k.raw;
    case 'nl': return '\n';
    case 'eof': return '';
    default: return k.v;
  }
}

function lex(file: string, src: string): Tok[] {
  const out: Tok[] = [];
  let line = 1;
  let i = 0;
  const err = (near: string, msg: string): never => {
    throw new CfgError(file, line, `config parsing error near \`${near}': ${msg}`);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      out.push({ t: 'nl', line });
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_.-]/.test(src[j]!)) j++;
      out.push({ t: 'id', v: src.slice(i, j), line });
      i = j;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < src.length && /[0-9A-Za-z.]/.test(src[j]!)) j++;
      const raw = src.slice(i, j);
      const v = Number(raw);
      if (!Number.isFinite(v)) err(raw, 'syntax error, unexpected IDENT');
      out.push({ t: 'num', v, raw, line });
      i = j;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let v = '';
      for (;;) {
        if (j >= src.length || src[j] === '\n') err(src.slice(i, j), 'unterminated string');
        const d = src[j]!;
        if (d === c) break;
        if (d === '\\' && c === '"') {
          const e = src[j + 1] ?? '';
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
          continue;
        }
        v += d;
        j++;
      }
      out.push({ t: 'str', v, raw: src.slice(i, j + 1), line });
      i = j + 1;
    } else if (c === '+' && src[i + 1] === '=') {
      out.push({ t: 'punct', v: '+=', line });
      i += 2;
    } else if ('=[],;'.includes(c)) {
      out.push({ t: 'punct', v: c as '=' | '[' | ']' | ',' | ';', line });
      i++;
    } else {
      err(c, 'invalid character');
    }
  }
  out.push({ t: 'eof', line });
  return out;
}

/** Parse the syntax only: key → value, with the line of each key. */
export function parseCfgText(file: string, src: string): { values: Record<string, CfgValue>; lines: Record<string, number> } {
  const toks = lex(file, src);
  let p = 0;
  const values: Record<string, CfgValue> = {};
  const lines: Record<string, number> = {};
  const peek = () => toks[p]!;
  const bad = (k: Tok, expecting: string): never => {
    throw new CfgError(file, k.line, `config parsing error near \`${tokText(k)}': syntax error, unexpected ${tokName(k)}, expecting ${expecting}`);
  };
  const skipNl = () => {
    while (peek().t === 'nl') p++;
  };
  const value = (): CfgValue => {
    const k = peek();
    if (k.t === 'num' || k.t === 'str') {
      p++;
      return k.v;
    }
    if (k.t === 'punct' && k.v === '[') {
      p++;
      const list: CfgValue[] = [];
      skipNl();
      while (!(peek().t === 'punct' && (peek() as { v: string }).v === ']')) {
        const item = peek();
        if (item.t !== 'num' && item.t !== 'str') bad(item, "STRING or NUMBER or ']'");
        p++;
        list.push((item as { v: string | number }).v);
        skipNl();
        const sep = peek();
        if (sep.t === 'punct' && sep.v === ',') {
          p++;
          skipNl();
        } else if (!(sep.t === 'punct' && sep.v === ']')) {
          bad(sep, "',' or ']'");
        }
      }
      p++;
      return list;
    }
    return bad(k, "STRING or NUMBER or '['");
  };
  for (;;) {
    const k = peek();
    if (k.t === 'eof') break;
    if (k.t === 'nl' || (k.t === 'punct' && k.v === ';')) {
      p++;
      continue;
    }
    if (k.t !== 'id') bad(k, 'IDENT or NEWLINE or $end');
    const key = (k as { v: string }).v;
    p++;
    const op = peek();
    if (!(op.t === 'punct' && (op.v === '=' || op.v === '+='))) bad(op, "'='");
    p++;
    const v = value();
    if ((op as { v: string }).v === '+=' && Array.isArray(values[key]) && Array.isArray(v)) {
      (values[key] as CfgValue[]).push(...v);
    } else {
      values[key] = v;
    }
    lines[key] = k.line;
    const end = peek();
    if (!(end.t === 'nl' || end.t === 'eof' || (end.t === 'punct' && end.v === ';'))) bad(end, "$end or ';' or NEWLINE");
  }
  return { values, lines };
}

const ON_EVENTS: readonly OnEvent[] = ['destroy', 'restart', 'preserve', 'coredump-destroy', 'coredump-restart', 'rename-restart', 'soft-reset'];

/** Virtual device number of `xvda`, `hdb`, `sdc`, `xvdz`, `xvdaa`, or a plain number. */
export function vdevToDevid(vdev: string): number | undefined {
  if (/^\d+$/.test(vdev)) return Number(vdev);
  const m = /^(xvd|hd|sd)([a-z]+)(\d*)$/.exec(vdev);
  if (!m) return undefined;
  let disk = 0;
  for (const ch of m[2]!) disk = disk * 26 + (ch.charCodeAt(0) - 96);
  disk -= 1;
  const part = m[3] ? Number(m[3]) : 0;
  if (m[1] === 'xvd') {
    if (disk < 16 && part < 16) return (202 << 8) | (disk << 4) | part;
    if (part > 255) return undefined;
    return (1 << 28) | (disk << 8) | part;
  }
  if (m[1] === 'hd') {
    if (disk > 3 || part > 63) return undefined;
    return ((disk < 2 ? 3 : 22) << 8) | ((disk & 1) << 6) | part;
  }
  if (disk > 15 || part > 15) return undefined;
  return (8 << 8) | (disk << 4) | part;
}

function parseSpec(s: string): { kv: Map<string, string>; positional: string[] } {
  const kv = new Map<string, string>();
  const positional: string[] = [];
  for (const raw of s.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) positional.push(part);
    else kv.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return { kv, positional };
}

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** Parse and check an xl.cfg file. Throws CfgError with FILE:LINE. */
export function parseDomainConfig(file: string, src: string): DomainConfig {
  const { values, lines } = parseCfgText(file, src);
  const lineOf = (k: string) => lines[k] ?? 1;
  const fail = (k: string, msg: string): never => {
    throw new CfgError(file, lineOf(k), msg);
  };
  const str = (k: string): string | undefined => {
    const v = values[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') fail(k, `${k}: expected a string`);
    return v as string;
  };
  const int = (k: string): number | undefined => {
    const v = values[k];
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 0) fail(k, `${k}: invalid integer value ${JSON.stringify(v)}`);
    return n;
  };
  const list = (k: string): string[] => {
    const v = values[k];
    if (v === undefined) return [];
    if (!Array.isArray(v)) fail(k, `${k}: expected a list [ '...', ... ]`);
    return (v as CfgValue[]).map((x) => {
      if (typeof x !== 'string') fail(k, `${k}: list items must be strings`);
      return x as string;
    });
  };
  const onEv = (k: string): OnEvent => {
    const v = str(k);
    if (v === undefined) return k === 'on_reboot' ? 'restart' : 'destroy';
    if (!ON_EVENTS.includes(v as OnEvent)) fail(k, `${k}: unknown action "${v}"`);
    return v as OnEvent;
  };

  const name = str('name');
  if (name === undefined || name === '') throw new CfgError(file, 1, 'Domain name must be specified.');
  if (!/^[A-Za-z0-9_.:-]+$/.test(name)) fail('name', `name: invalid domain name "${name}"`);
  const type = (str('type') ?? 'pvh') as DomainConfig['type'];
  if (!['pvh', 'pv', 'hvm'].includes(type)) fail('type', `type: invalid domain type "${type}"`);
  const memory = int('memory') ?? 128;
  if (memory === 0) fail('memory', 'memory: must be at least 1 MiB');
  const maxmem = int('maxmem') ?? memory;
  if (maxmem < memory) fail('maxmem', `maxmem (${maxmem}) is less than memory (${memory})`);
  const vcpus = int('vcpus') ?? 1;
  if (vcpus < 1 || vcpus > 128) fail('vcpus', `vcpus: ${vcpus} out of range 1..128`);
  const uuid = str('uuid');
  if (uuid !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) fail('uuid', `Failed to parse UUID: ${uuid}`);

  const vifs = list('vif').map((spec, devid): VifSpec => {
    const { kv, positional } = parseSpec(spec);
    if (positional.length > 0) fail('vif', `vif: invalid parameter "${positional[0]}" in "${spec}"`);
    const vif: VifSpec = { bridge: 'xenbr0', backend: 0, devid };
    for (const [key, val] of kv) {
      switch (key) {
        case 'mac':
          if (!MAC_RE.test(val)) fail('vif', `vif: Invalid MAC address "${val}"`);
          vif.mac = val.toLowerCase();
          break;
        case 'bridge': vif.bridge = val; break;
        case 'ip': vif.ip = val; break;
        case 'script': vif.script = val; break;
        case 'vifname': vif.vifname = val; break;
        case 'rate': vif.rate = val; break;
        case 'mtu':
          if (!/^\d+$/.test(val)) fail('vif', `vif: invalid mtu "${val}"`);
          vif.mtu = Number(val);
          break;
        case 'backend':
          if (!/^\d+$/.test(val)) fail('vif', `vif: backend domain must be a domid here, got "${val}"`);
          vif.backend = Number(val);
          break;
        case 'model': case 'type': case 'accel': break;
        default: fail('vif', `vif: unknown parameter "${key}"`);
      }
    }
    return vif;
  });

  const seenVdev = new Set<number>();
  const disks = list('disk').map((spec): DiskSpec => {
    const { kv, positional } = parseSpec(spec);
    // Legacy positional form: [format:]target, vdev, access.
    if (positional.length > 0 && kv.size === 0) {
      const [t, v, a] = positional;
      if (t !== undefined) kv.set('target', t.replace(/^(phy|file|tap|aio):/, ''));
      if (v !== undefined) kv.set('vdev', v);
      if (a !== undefined) kv.set('access', a);
    } else if (positional.length > 0) {
      // Unkeyed trailing item is the target (xl-disk-configuration).
      if (positional.length > 1 || kv.has('target')) fail('disk', `disk: unexpected "${positional[0]}" in "${spec}"`);
      kv.set('target', positional[0]!);
    }
    const target = kv.get('target');
    if (!target) fail('disk', `disk: no target in "${spec}"`);
    const vdev = kv.get('vdev');
    if (!vdev) fail('disk', `disk: no vdev specified in "${spec}"`);
    const devid = vdevToDevid(vdev!);
    if (devid === undefined) fail('disk', `disk: invalid vdev "${vdev}"`);
    if (seenVdev.has(devid!)) fail('disk', `disk: vdev "${vdev}" used twice`);
    seenVdev.add(devid!);
    const access = (kv.get('access') ?? 'rw').toLowerCase();
    const acc = access === 'w' || access === 'rw' ? 'rw' : access === 'r' || access === 'ro' ? 'ro' : undefined;
    if (!acc) fail('disk', `disk: invalid access "${access}"`);
    const format = kv.get('format') ?? 'raw';
    if (!['raw', 'qcow2', 'vhd'].includes(format)) fail('disk', `disk: invalid format "${format}"`);
    const devtype = kv.get('devtype') ?? (kv.has('cdrom') ? 'cdrom' : 'disk');
    if (devtype !== 'disk' && devtype !== 'cdrom') fail('disk', `disk: invalid devtype "${devtype}"`);
    for (const key of kv.keys()) {
      if (!['target', 'vdev', 'access', 'format', 'devtype', 'backend', 'script', 'cdrom', 'backendtype'].includes(key)) fail('disk', `disk: unknown parameter "${key}"`);
    }
    const backend = Number(kv.get('backend') ?? 0);
    if (!Number.isInteger(backend)) fail('disk', 'disk: backend must be a domid');
    const d: DiskSpec = { target: target!, vdev: vdev!, devid: devid!, format: format as DiskSpec['format'], access: acc!, devtype: devtype as DiskSpec['devtype'], backend };
    const script = kv.get('script');
    if (script !== undefined) d.script = script;
    return d;
  });

  const extraCmd = str('extra');
  const cmdline = str('cmdline') ?? extraCmd ?? '';
  const stubRaw = values['device_model_stubdomain_override'];
  const stubdom = stubRaw === 1 || stubRaw === '1' || stubRaw === 'true';
  const known = new Set(['name', 'type', 'kernel', 'memory', 'maxmem', 'vcpus', 'uuid', 'vif', 'disk', 'on_poweroff', 'on_reboot', 'on_crash', 'extra', 'cmdline', 'device_model_stubdomain_override']);
  const extra: Record<string, CfgValue> = {};
  for (const [k, v] of Object.entries(values)) if (!known.has(k)) extra[k] = v;

  const cfg: DomainConfig = {
    name, type, memory, maxmem, vcpus, cmdline, vifs, disks,
    on_poweroff: onEv('on_poweroff'), on_reboot: onEv('on_reboot'), on_crash: onEv('on_crash'),
    stubdom, extra, lines,
  };
  const kernel = str('kernel');
  if (kernel !== undefined) cfg.kernel = kernel;
  if (uuid !== undefined) cfg.uuid = uuid.toLowerCase();
  return cfg;
}
