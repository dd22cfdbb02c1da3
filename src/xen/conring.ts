// Xen's console ring (xen/drivers/char/console.c: conring, conring_puts):
// every printk line, prefixed "(XEN) ", is appended to a fixed-size ring and
// the oldest bytes are overwritten, so the ring may start in the middle of a
// line, as `xl dmesg` on a long-running host does. `xl dmesg` reads it
// verbatim (XEN_SYSCTL_readconsole), `xl dmesg -c` clears it.

/** Xen's ring at boot: 16 KiB (console.c: _conring[CONRING_SIZE], CONRING_SIZE 16384). */
export const CONRING_SIZE = 16 * 1024;

export class ConsoleRing {
  private buf = '';
  /** Bytes ever written (conringp in Xen), so readers can tell how much was overwritten. */
  written = 0;

  constructor(readonly size = CONRING_SIZE) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new Error(`console ring size must be a positive integer, got ${size}`);
  }

  /** conring_puts: append, keeping only the newest `size` bytes (console text is ASCII). */
  puts(text: string): void {
    this.written += text.length;
    this.buf += text;
    if (this.buf.length > this.size) this.buf = this.buf.slice(this.buf.length - this.size);
  }

  /** What `xl dmesg` prints. */
  read(): string {
    return this.buf;
  }

  /** `xl dmesg -c`. */
  clear(): void {
    this.buf = '';
  }

  /** The complete lines still in the ring, without the "(XEN) " prefix (a line cut by the wrap is dropped). */
  lines(): string[] {
    let text = this.buf;
    if (this.written > this.buf.length) text = text.slice(text.indexOf('\n') + 1);
    return text.split('\n').filter((l) => l !== '').map((l) => l.replace(/^\(XEN\) /, ''));
  }
}
