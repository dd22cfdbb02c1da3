// A domain's CONSOLEIO_write output, kept per domain so `xl console` shows
// it (Machine.console appends it to the PV console's log).
//
// Xen itself keeps none of it per domain: guest_console_write (xen/drivers/
// char/console.c) gathers a line in the domain's 200-byte pbuf
// (DOMAIN_PBUF_SIZE) and prints it with guest_printk into the console ring,
// whose oldest bytes are overwritten (conring.ts, 16 KiB). xenode keeps each
// domain's output apart, so one chatty guest cannot push another's out, and
// bounds it with the rule xenconsoled applies to a domain's buffer
// (tools/console/daemon/io.c: buffer_append, --overflow-data=discard, the
// default): once the buffer is past 5/4 of its limit, the middle goes, from
// limit/2 to limit; the first limit/2 bytes (the boot lines) and the newest
// stay. Nothing here is ever consumed, so io.c's other branch (drop what was
// already written out) never applies.
//
// Lengths are in UTF-16 code units of the decoded text (bytes for the ASCII
// that consoles carry).

import { CONRING_SIZE } from './conring.ts';

/** The limit (max_capacity in io.c): the size of the ring this output shares in Xen. */
export const DOMAIN_CONSOLE_MAX = CONRING_SIZE;

export class ConsoleBuffer {
  private buf = '';
  /** Characters discarded from the middle so far (never shown again). */
  discarded = 0;

  constructor(readonly max = DOMAIN_CONSOLE_MAX) {
    if (!Number.isSafeInteger(max) || max < 4) throw new Error(`console buffer limit must be an integer >= 4, got ${max}`);
  }

  /** buffer_append's bound: append, then past 5/4 of `max` discard [max/2, max). */
  append(text: string): void {
    this.buf += text;
    if (this.buf.length <= (5 * this.max) / 4) return;
    const half = Math.floor(this.max / 2);
    const over = this.buf.length - this.max;
    this.discarded += this.buf.length - (half + over);
    this.buf = this.buf.slice(0, half) + this.buf.slice(this.buf.length - over);
  }

  /** The kept text: at most 5/4 of `max`. */
  read(): string {
    return this.buf;
  }
}
