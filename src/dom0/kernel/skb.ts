// Socket buffers, just enough of them: a linear head, page fragments that may
// be grant-mapped guest pages (netback zerocopy), and a reference count with
// the zerocopy completion (ubuf_info) fired when the last user frees it.
//
// success/fail follows skb_zcopy_clear(): a buffer freed with its foreign
// frags untouched (NIC TX completion, even a drop) completes with success; a
// buffer whose frags had to be copied (delivery to another vif, the local
// stack: skb_orphan_frags) completes with fail. That is why the 2018 report
// shows tx_zerocopy_fail climbing on a bridge with local vifs.

export interface SkbFrag {
  page: ArrayBuffer;
  offset: number;
  len: number;
}

export interface ZerocopyInfo {
  /** Buffers sharing this ubuf (clones). */
  refs: number;
  copied: boolean;
  /** xenvif_zerocopy_callback. */
  callback(success: boolean): void;
}

export class Skb {
  /** Net device the packet came from (e.g. 'vif1.0', 'eth0'). */
  dev = '';
  constructor(
    readonly head: Uint8Array,
    readonly frags: SkbFrag[] = [],
    public zc: ZerocopyInfo | undefined = undefined,
  ) {}

  get len(): number {
    return this.head.length + this.frags.reduce((a, f) => a + f.len, 0);
  }

  get zerocopy(): boolean {
    return this.zc !== undefined;
  }

  /**
   * All bytes for a reader that keeps them: the head itself when there are
   * no frags (nothing writes an skb's head once it is built, and clones only
   * share it), else linearize(). Saves a copy per packet on the linear path.
   */
  data(): Uint8Array {
    return this.frags.length === 0 ? this.head : this.linearize();
  }

  /** All bytes, copied (skb_copy_bits). Marks zerocopy frags as copied. */
  linearize(): Uint8Array {
    const out = new Uint8Array(this.len);
    out.set(this.head, 0);
    let o = this.head.length;
    for (const f of this.frags) {
      out.set(new Uint8Array(f.page, f.offset, f.len), o);
      o += f.len;
    }
    if (this.zc && this.frags.length > 0) this.zc.copied = true;
    return out;
  }

  /** skb_clone: shares head and frags (and the ubuf). */
  clone(): Skb {
    if (this.zc) this.zc.refs++;
    const c = new Skb(this.head, this.frags, this.zc);
    c.dev = this.dev;
    return c;
  }

  /** kfree_skb / consume_skb: drop this user's reference. */
  free(): void {
    const zc = this.zc;
    this.zc = undefined;
    if (!zc) return;
    if (--zc.refs === 0) zc.callback(!zc.copied);
  }

  /** Destination MAC (first 6 bytes) as aa:bb:..; '' if too short. */
  get dst(): string {
    return this.head.length >= 6 ? mac(this.head, 0) : '';
  }

  get src(): string {
    return this.head.length >= 12 ? mac(this.head, 6) : '';
  }
}

export function mac(b: Uint8Array, o: number): string {
  return Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

export function isMulticast(m: string): boolean {
  return (parseInt(m.slice(0, 2), 16) & 1) === 1;
}
