// A host process for the durability test (test/dom0/kernel/blk_durability.test.ts):
// boots kernels/kv.ts with its disk on IMAGE (a real file) and copies the
// guest's console to stdout as it is written, so the parent sees each
// `kv: ack` line while this process is still running and can SIGKILL it.
//   node --import tsx test/support/kv_host.ts IMAGE PUTS SEED
// Exits 0 when the kernel has shut down, 2 on a usage or set-up error, 3 if
// it is still running after 600 s of virtual time.
import { Machine } from '../../src/machine/machine.ts';

const [image, putsArg, seedArg] = process.argv.slice(2);
if (!image || putsArg === undefined) {
  process.stderr.write('usage: kv_host.ts IMAGE PUTS [SEED]\n');
  process.exit(2);
}
// Pipes are written synchronously on Linux: each line is out before the sim goes on.
const host = new Machine({ seed: Number(seedArg ?? 1), onConsole: (domid, text) => void (domid === 1 && process.stdout.write(text)) });
host.files.set('kv.cfg', `name = "kv"\nkernel = "kernels/kv.ts"\nmemory = 32\nvcpus = 1\ndisk = [ 'format=raw, vdev=xvda, access=rw, target=${image}' ]\nextra = "puts=${putsArg}"\n`);
const r = await host.xl('create kv.cfg');
if (r.code !== 0) {
  process.stderr.write(`xl create: ${r.stderr}\n`);
  process.exit(2);
}
const dom = host.hv.domain(1)!;
host.sim.runUntil(() => dom.shutdownReason !== undefined, { until: host.sim.now + 600e9 });
process.exit(dom.shutdownReason === undefined ? 3 : 0);
