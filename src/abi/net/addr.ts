// MAC and IPv4 addresses as numbers: a MAC is 48 bits (exact in a double), an
// IPv4 address a u32. Numbers compare and key Maps without allocating, which
// matters on the per-frame path. Parsers return undefined on bad input.
//
// Pure: no Node built-ins (guest bundles import it).

export type Mac = number;
export type Ipv4Addr = number;

export const MAC_BROADCAST: Mac = 0xffff_ffff_ffff;
export const IPV4_BROADCAST: Ipv4Addr = 0xffff_ffff;
export const IPV4_ANY: Ipv4Addr = 0;

/** A group address has the I/G bit (bit 0 of the first octet) set. */
export function isMulticastMac(m: Mac): boolean {
  return Math.floor(m / 2 ** 40) % 2 === 1;
}

export function readMac(b: Uint8Array, o: number): Mac {
  return ((b[o]! << 8) | b[o + 1]!) * 2 ** 32 + (((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0);
}

export function writeMac(b: Uint8Array, o: number, m: Mac): void {
  const hi = Math.floor(m / 2 ** 32);
  const lo = m >>> 0;
  b[o] = hi >>> 8;
  b[o + 1] = hi & 0xff;
  b[o + 2] = lo >>> 24;
  b[o + 3] = (lo >>> 16) & 0xff;
  b[o + 4] = (lo >>> 8) & 0xff;
  b[o + 5] = lo & 0xff;
}

export function readIpv4(b: Uint8Array, o: number): Ipv4Addr {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function writeIpv4(b: Uint8Array, o: number, a: Ipv4Addr): void {
  b[o] = a >>> 24;
  b[o + 1] = (a >>> 16) & 0xff;
  b[o + 2] = (a >>> 8) & 0xff;
  b[o + 3] = a & 0xff;
}

/** aa:bb:cc:dd:ee:ff (lower case, as xenstore's `mac` node and ip(8) print it). */
export function macToString(m: Mac): string {
  const b = new Uint8Array(6);
  writeMac(b, 0, m);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

export function parseMac(s: string): Mac | undefined {
  const m = /^([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})$/.exec(s.trim());
  if (!m) return undefined;
  const b = Uint8Array.from(m.slice(1), (x) => parseInt(x, 16));
  return readMac(b, 0);
}

export function ipv4ToString(a: Ipv4Addr): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** Dotted quad only (inet_pton's AF_INET form: four decimal octets, no leading '+'). */
export function parseIpv4(s: string): Ipv4Addr | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

/** 255.255.255.0 → 24; undefined unless the ones are contiguous. */
export function netmaskPrefix(mask: Ipv4Addr): number | undefined {
  const inv = ~mask >>> 0;
  if ((inv & (inv + 1)) !== 0) return undefined;
  return 32 - Math.log2(inv + 1);
}

export function prefixNetmask(prefix: number): Ipv4Addr {
  return prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
}
