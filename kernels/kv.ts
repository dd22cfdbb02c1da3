// kv: a key-value log on blkfront (vbd 51712, xvda) whose acknowledged
// records survive the death of the host process.
//
// Disk layout: page p (sectors 8p..8p+7) holds record p, for p >= 1; page 0
// is unused. A record page is
//   [0,4) "KVR1"  [4,8) seq (u32 LE, = p)  [8,10) key length  [10,12) value
//   length  [12,16) FNV-1a of bytes [0,12) and the key and value  [16,…) key,
//   then value (latin1).
// Boot replays pages 1, 2, … while each holds a valid record whose seq is
// its page number; the first that does not ends the log (a record that was
// never acknowledged may or may not be there; an acknowledged one always is).
//
// Writing a record, and why this order:
//   1. write the record page and wait for its response (the data is in dom0's
//      page cache: it would survive a kill of the host process, not a power
//      loss);
//   2. FLUSH_DISKCACHE and wait for its response: blkback answers a flush
//      only after fdatasync of the image, so every write completed in 1 is on
//      stable storage;
//   3. only then print `kv: ack <seq> <key>=<value>`. A reader that saw the
//      ack line may rely on the record after any crash.
// Command line: puts=N (records to append, default 0), keys=K (keys cycle
// over k0..k{K-1}, default 8). Boot prints
// `kv: recovered <n> records, <k> keys, digest <hex>`; the exit code is 0,
// or 1 when the backend cannot flush or an I/O fails.
//xl: disk = [ 'format=raw, vdev=xvda, access=rw, target=mem:4' ]
import { Blkfront, Cmdline, Console, Xs, kernel } from 'xenode/guest';

const MAGIC = [0x4b, 0x56, 0x52, 0x31]; // "KVR1"
const HEADER = 16;

function fnv(bytes: Uint8Array, from: number, to: number, h = 0x811c9dc5): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h;
}

function encodeRecord(seq: number, key: string, value: string): Uint8Array {
  const page = new Uint8Array(4096);
  const dv = new DataView(page.buffer);
  page.set(MAGIC, 0);
  dv.setUint32(4, seq, true);
  dv.setUint16(8, key.length, true);
  dv.setUint16(10, value.length, true);
  for (let i = 0; i < key.length; i++) page[HEADER + i] = key.charCodeAt(i);
  for (let i = 0; i < value.length; i++) page[HEADER + key.length + i] = value.charCodeAt(i);
  dv.setUint32(12, fnv(page, HEADER, HEADER + key.length + value.length, fnv(page, 0, 12)), true);
  return page;
}

function decodeRecord(page: Uint8Array, seq: number): { key: string; value: string } | undefined {
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  for (let i = 0; i < 4; i++) if (page[i] !== MAGIC[i]) return undefined;
  if (dv.getUint32(4, true) !== seq) return undefined;
  const kl = dv.getUint16(8, true);
  const vl = dv.getUint16(10, true);
  if (HEADER + kl + vl > page.length) return undefined;
  if (dv.getUint32(12, true) !== fnv(page, HEADER, HEADER + kl + vl, fnv(page, 0, 12))) return undefined;
  let key = '';
  let value = '';
  for (let i = 0; i < kl; i++) key += String.fromCharCode(page[HEADER + i]!);
  for (let i = 0; i < vl; i++) value += String.fromCharCode(page[HEADER + kl + i]!);
  return { key, value };
}

/** Order-independent summary of the state: FNV over the sorted `key=value` lines. */
function digest(state: Map<string, string>): string {
  const text = [...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}\n`).join('');
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
  return fnv(bytes, 0, bytes.length).toString(16).padStart(8, '0');
}

kernel(async () => {
  const puts = Number(Cmdline.args.puts ?? 0);
  const keys = Math.max(1, Number(Cmdline.args.keys ?? 8));
  const bf = new Blkfront(Xs.connect());
  await bf.connect();
  if (!bf.featureFlush) {
    Console.log('kv: the backend does not advertise feature-flush-cache: no durable log');
    return 1;
  }
  const pages = Math.floor(bf.sectors / 8);
  const state = new Map<string, string>();
  const page = new Uint8Array(4096);
  let seq = 0;
  while (seq + 1 < pages) {
    if ((await bf.io('read', (seq + 1) * 8, page)) !== 0) {
      Console.log(`kv: read of record ${seq + 1} failed`);
      return 1;
    }
    const r = decodeRecord(page, seq + 1);
    if (!r) break;
    state.set(r.key, r.value);
    seq++;
  }
  Console.log(`kv: recovered ${seq} records, ${state.size} keys, digest ${digest(state)}`);
  for (let i = 0; i < puts; i++) {
    const s = seq + 1;
    if (s >= pages) {
      Console.log(`kv: log full at ${seq} records`);
      break;
    }
    const key = `k${s % keys}`;
    const value = `v${s}`;
    if ((await bf.io('write', s * 8, encodeRecord(s, key, value))) !== 0 || (await bf.flush()) !== 0) {
      Console.log(`kv: write of record ${s} failed`);
      return 1;
    }
    seq = s;
    state.set(key, value);
    Console.log(`kv: ack ${s} ${key}=${value}`);
  }
  Console.log(`kv: ${seq} records, digest ${digest(state)}`);
  return 0;
});
