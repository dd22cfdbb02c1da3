// Hostile xenstore frames for the fuzzer (`npm run fuzz`): well-formed
// requests over a small path vocabulary (so a privileged fuzzer's writes keep
// the store small), requests with broken arguments, unknown types, wrong
// transaction ids, and raw garbage with a consistent header. Every choice
// comes from one seeded Choices stream: the same seed gives the same frames.
import { XS_HEADER_SIZE, XS_TYPE_COUNT, encodeMessage } from '../../abi/xs_wire.ts';
import type { Choices } from '../../sim/index.ts';

const PATHS = [
  '/f', '/f/a', '/f/a/b', '/f/c', '/local/domain/7', '/local/domain/7/data', 'data', 'data/x', '@introduceDomain',
  '@releaseDomain', '/', '', '//', '/f/', '/f//a', '/tool/xenstored', '/f/\u00ff', '/local/domain/0', '..',
];
const WORDS = ['', '0', '1', '7', '-1', '4294967296', 'n0', 'r7', 'b0', 'w1', 'x9', 'T', 'F', 'quota', 'help', 'print', 'check', 'live-update', 'log'];

/** Payload tokens joined by NULs (or not), from the vocabulary, numbers and noise. */
function payload(r: Choices): Uint8Array {
  const parts: string[] = [];
  const n = r.choose(5);
  for (let i = 0; i < n; i++) {
    const k = r.choose(10);
    if (k < 5) parts.push(PATHS[r.choose(PATHS.length)]!);
    else if (k < 8) parts.push(WORDS[r.choose(WORDS.length)]!);
    else parts.push('v'.repeat(r.choose(60)));
  }
  const text = parts.join(r.oneIn(8) ? '' : '\0') + (r.oneIn(4) ? '' : '\0');
  const b = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) b[i] = text.charCodeAt(i) & 0xff;
  return b;
}

/** Flip, drop or add a few bytes of the payload (never the header: the frame stays whole). */
function mutate(r: Choices, p: Uint8Array): Uint8Array {
  let out = p;
  const n = 1 + r.choose(3);
  for (let i = 0; i < n; i++) {
    const k = r.choose(3);
    if (k === 0 && out.length > 0) {
      out = out.slice();
      out[r.choose(out.length)] = r.choose(256);
    } else if (k === 1 && out.length > 0) out = out.slice(0, r.choose(out.length));
    else {
      const more = new Uint8Array(out.length + 1 + r.choose(8));
      more.set(out);
      for (let j = out.length; j < more.length; j++) more[j] = r.choose(256);
      out = more;
    }
  }
  return out;
}

export interface FrameOptions {
  /** Transaction ids the sender may use (its own open ones); others are picked too, rarely. */
  txIds?: readonly number[];
  /** Message types never sent (e.g. INTRODUCE from a privileged fuzzer, which would make it a toolstack). */
  exclude?: ReadonlySet<number>;
}

/** One whole frame: header (type, req_id, tx_id, len = payload length) and payload ≤ 4096 bytes. */
export function randomFrame(r: Choices, opts: FrameOptions = {}): Uint8Array {
  let type: number;
  do type = r.oneIn(10) ? XS_TYPE_COUNT + r.choose(40) : r.choose(XS_TYPE_COUNT);
  while (opts.exclude?.has(type));
  const tx = opts.txIds && opts.txIds.length > 0 && r.oneIn(3) ? opts.txIds[r.choose(opts.txIds.length)]! : r.oneIn(8) ? r.choose(1 << 16) : 0;
  let p = payload(r);
  if (r.oneIn(3)) p = mutate(r, p);
  if (r.oneIn(50)) p = new Uint8Array(4096).fill(0x61);
  return encodeMessage(type, r.choose(1 << 30), tx, p.subarray(0, 4096));
}

/** Raw bytes with a header whose len matches (garbage types and payloads), for the ring's framing. */
export function garbageFrame(r: Choices): Uint8Array {
  const len = r.choose(200);
  const f = new Uint8Array(XS_HEADER_SIZE + len);
  for (let i = 0; i < f.length; i++) f[i] = r.choose(256);
  new DataView(f.buffer).setUint32(12, len, true);
  return f;
}
