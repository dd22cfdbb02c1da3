// Run a CLI main() and capture what it prints (console.log/error and direct
// process.stdout/stderr writes, e.g. a progress line), restoring everything after.
export async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = console.log;
  const error = console.error;
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  console.log = (...a: unknown[]) => { out += a.join(' ') + '\n'; };
  console.error = (...a: unknown[]) => { err += a.join(' ') + '\n'; };
  (process.stdout as { write: unknown }).write = (s: string | Uint8Array) => { out += String(s); return true; };
  (process.stderr as { write: unknown }).write = (s: string | Uint8Array) => { err += String(s); return true; };
  try {
    return { code: await fn(), out, err };
  } finally {
    console.log = log;
    console.error = error;
    (process.stdout as { write: unknown }).write = write;
    (process.stderr as { write: unknown }).write = writeErr;
  }
}
