// Where the reference daemons live: a kit named by $XENODE_ANCHOR_KIT (Xen
// 4.17's real cxenstored and oxenstored, run without a hypervisor) and
// the env file its setup.sh writes (XS_XENBIN, XS_BENCHBIN, XS_LIBDIR, ...).
// Used by the differential tests and the benchmark, never by the daemon.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The kit's folder: $XENODE_ANCHOR_KIT, else the development machine's usual places. */
export function kitDir(): string | undefined {
  const cands = [process.env.XENODE_ANCHOR_KIT, path.resolve(root, '../shared/anchors/xenstored'), '/work/shared/anchors/xenstored'];
  for (const c of cands) if (c && fs.existsSync(path.join(c, 'run.sh'))) return c;
  return undefined;
}

/** Variables of the kit's env file, if setup.sh has run. */
export function kitEnv(): Record<string, string> | undefined {
  const dir = process.env.XS_ANCHOR_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'xs-anchor/xen-4.17');
  const f = path.join(dir, 'env');
  if (!fs.existsSync(f)) return undefined;
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!.replace(/^["']|["']$/g, '');
  }
  return env;
}
