// The Internet checksum (RFC 1071), for IPv4 headers, ICMP and UDP.
//
// The one's-complement sum of 16-bit big-endian words; an odd trailing byte is
// padded with a zero byte. A receiver sums the covered bytes *with* the
// checksum field in place: a correct message sums to 0xffff, so its
// complement, checksum(), is 0. Partial sums can be chained (`init`), which
// is how UDP adds its pseudo-header.
//
// Pure: no Node built-ins (guest bundles import it).

/** One's-complement sum of b[off, off+len) added to `init`, folded to 16 bits. */
export function onesSum(b: Uint8Array, off: number, len: number, init = 0): number {
  let sum = init;
  const end = off + len;
  let i = off;
  // Fold every 64 KiB of words at most: a JS number stays exact far beyond that,
  // but folding keeps the loop in small-integer arithmetic.
  for (; i + 1 < end; i += 2) {
    sum += (b[i]! << 8) | b[i + 1]!;
    if (sum > 0x7fff0000) sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (i < end) sum += b[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum to store (sender), or 0 when a received message is intact (receiver). */
export function checksum(b: Uint8Array, off: number, len: number, init = 0): number {
  return ~onesSum(b, off, len, init) & 0xffff;
}
