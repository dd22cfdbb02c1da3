// Create/destroy cycles of a netfront domain on a full Machine; the
// per-machine counters that must come back to exactly where they were (what a
// domain lifecycle may not leak, issue 11, item 4) are src/machine/counters.ts.
// Used by
// test/machine/lifecycle.test.ts (a few hundred cycles) and
// scripts/lifecycle_cycles.ts (2,000, with timings).
import { Machine } from '../../src/machine/machine.ts';

export const NETFRONT_CFG =
  `name = "nf"\nkernel = "kernels/netfront.ts"\nmemory = 64\nvcpus = 1\n` +
  `vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nextra = "tx=1500 interval=1ms"\n`;

/** A machine with the netfront config loaded and its kernel built (the first create builds it). */
export async function lifecycleMachine(seed: number): Promise<Machine> {
  const m = new Machine({ seed, xenpvQemu: false });
  m.files.set('nf.cfg', NETFRONT_CFG);
  await m.xl('create nf.cfg');
  m.sim.run({ until: m.sim.now + 20e6 });
  const r = m.xlSync('destroy nf');
  if (r.code !== 0) throw new Error(`destroy: ${r.stderr}`);
  m.sim.run({ until: m.sim.now + 1e6 });
  return m;
}

/**
 * One cycle: create, let the guest connect and send frames for 5 ms of
 * virtual time, destroy, settle. `during` sees the machine while the domain
 * runs (a test checks that the counters did move).
 */
export function cycle(m: Machine, during?: (m: Machine) => void): void {
  let r = m.xlSync('create nf.cfg');
  if (r.code !== 0) throw new Error(`create: ${r.stderr}`);
  m.sim.run({ until: m.sim.now + 5e6 });
  during?.(m);
  r = m.xlSync('destroy nf');
  if (r.code !== 0) throw new Error(`destroy: ${r.stderr}`);
  m.sim.run({ until: m.sim.now + 1e6 });
}
