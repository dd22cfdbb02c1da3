// dom0's xenstore-read and xenstore-ls (tools/xenstore/xenstore_client.c), as
// privileged dom0 processes over libxenstore; their output and error lines are
// the C tools' own.
import type { Co } from '../sim/index.ts';
import type { Libxenstore } from '../dom0/toolstack/xs.ts';
import type { XlResult } from '../dom0/toolstack/xl.ts';

/** Runs a coroutine as a dom0 process to completion (Machine.run). */
export type RunProcess = <T>(co: () => Co<T>, name: string) => T;

/** `xenstore-read PATH`: the value and a newline, or exit 1 if the node is missing. */
export function xenstoreRead(run: RunProcess, xs: Libxenstore, path: string): XlResult {
  const v = run(() => xs.read(0, path), 'xenstore-read');
  return v === undefined ? { code: 1, stdout: '', stderr: `xenstore-read: couldn't read path ${path}\n` } : { code: 0, stdout: `${v}\n`, stderr: '' };
}

/** `xenstore-ls PATH`: the subtree, one space of indent per level, `name = "value"`; exit 1 if PATH is missing. */
export function xenstoreLs(run: RunProcess, xs: Libxenstore, path: string): XlResult {
  const lines: string[] = [];
  const walk = function* (p: string, depth: number): Co {
    const kids = (yield* xs.directory(0, p)) ?? [];
    for (const k of kids) {
      const child = p === '/' ? `/${k}` : `${p}/${k}`;
      const v = (yield* xs.read(0, child)) ?? '';
      lines.push(`${' '.repeat(depth)}${k} = "${v}"`);
      yield* walk(child, depth + 1);
    }
  };
  const exists = run(function* () {
    if ((yield* xs.read(0, path)) === undefined) return false;
    yield* walk(path, 0);
    return true;
  }, 'xenstore-ls');
  if (!exists) return { code: 1, stdout: '', stderr: `xenstore-ls: xs_directory (${path}): No such file or directory\n` };
  return { code: 0, stdout: lines.map((l) => l + '\n').join(''), stderr: '' };
}
