// Console output through CONSOLEIO_write (the hypervisor console: `(d1) ...`).
// Lines are buffered until '\n' so that one guest line is one console line.

import type { Hyper } from './hypercall.ts';

export class Console {
  private buf = '';
  constructor(private readonly hyper: Hyper) {}

  write(s: string): void {
    this.buf += s;
    const nl = this.buf.lastIndexOf('\n');
    if (nl < 0) {
      if (this.buf.length >= 4096) this.flush();
      return;
    }
    this.hyper.consoleWrite(this.buf.slice(0, nl + 1));
    this.buf = this.buf.slice(nl + 1);
  }

  flush(): void {
    if (this.buf.length === 0) return;
    this.hyper.consoleWrite(this.buf);
    this.buf = '';
  }

  log(...args: unknown[]): void {
    this.write(args.map(fmt).join(' ') + '\n');
  }
}

export function fmt(x: unknown): string {
  if (typeof x === 'string') return x;
  if (x instanceof Error) return x.stack ?? `${x.name}: ${x.message}`;
  if (typeof x === 'object' && x !== null) {
    try {
      return JSON.stringify(x);
    } catch {
      return String(x);
    }
  }
  return String(x);
}
