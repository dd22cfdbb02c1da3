// dom0's kernel log (`dmesg`): printk appends a line, and the buffer keeps
// the most recent LOG_LINES of them, as Linux's log_buf (a fixed-size ring,
// CONFIG_LOG_BUF_SHIFT) overwrites its oldest records. Written only from
// host-side code between guest steps (no `yield*` inside printk).

/** Lines kept; older ones are overwritten. */
export const LOG_LINES = 1024;

export class KernelLog {
  private readonly ring: string[] = [];
  private next = 0;
  /** Lines ever printed, including the overwritten ones. */
  total = 0;

  printk(line: string): void {
    if (this.ring.length < LOG_LINES) this.ring.push(line);
    else this.ring[this.next] = line;
    this.next = (this.next + 1) % LOG_LINES;
    this.total++;
  }

  /** The kept lines, oldest first. */
  lines(): string[] {
    return this.ring.length < LOG_LINES ? this.ring.slice() : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}
