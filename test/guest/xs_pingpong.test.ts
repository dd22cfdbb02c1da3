// kernels/pingpong.ts on the full host: the port exchange goes through
// xenstore (the server publishes data/port readable by its peer, the client
// watches for it); the bare-hypervisor scenario keeps the cmdline `port=`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../src/machine/machine.ts';
import { runScenario } from '../../src/machine/run_kernel.ts';

const P = suite('pingpong port exchange');
const S = 1e9;

P('over xenstore on the host (client created first, waits on a watch)', async () => {
  const host = new Machine({ seed: 5, xenpvQemu: false });
  // the client is created first: it must wait for the server's data/port
  host.files.set('c.cfg', 'name = "ppc"\nkernel = "kernels/pingpong.ts"\nmemory = 32\ncmdline = "role=client peer=2 rounds=50"\n');
  host.files.set('s.cfg', 'name = "pps"\nkernel = "kernels/pingpong.ts"\nmemory = 32\ncmdline = "role=server peer=1 rounds=50"\n');
  assert.is((await host.xl('create c.cfg')).code, 0);
  host.sim.run({ until: host.sim.now + 0.5 * S });
  assert.is((await host.xl('create s.cfg')).code, 0);
  const c = host.hv.domain(1)!;
  const s = host.hv.domain(2)!;
  assert.is(c.name, 'ppc');
  assert.is(s.name, 'pps');
  const end = host.sim.now + 10 * S;
  host.sim.runUntil(() => (c.shutdownReason !== undefined && s.shutdownReason !== undefined) || host.sim.now >= end);
  assert.is(s.shutdownReason, 0, host.console(s.id)!);
  assert.is(c.shutdownReason, 0, host.console(c.id)!);
  const port = /pingpong server: port (\d+) for d1, 50 rounds \(published in data\/port\)/.exec(host.console(s.id)!)?.[1];
  assert.ok(port, host.console(s.id)!);
  assert.match(host.console(c.id)!, new RegExp(`pingpong client: d2's port ${port} \\(from xenstore\\)`));
  assert.match(host.console(c.id)!, /pingpong client: 50 round trips/);
  assert.match(host.console(s.id)!, /pingpong server: 50 pongs/);
});

P('xenode run kernels/pingpong.ts: server d1 and client d2 on one host, port from xenstore', async () => {
  const r = await runScenario({ kernel: 'kernels/pingpong.ts', seed: 3, cmdline: 'rounds=20' });
  assert.ok(r.ok, r.summary);
  assert.match(r.machine.console(2)!, /20 round trips on port 4/);
});

P.run();
