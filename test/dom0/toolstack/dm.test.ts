import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeFixture } from './fixture.ts';
import { parseDomainConfig } from '../../../src/dom0/toolstack/cfg.ts';
import { DeviceModels } from '../../../src/dom0/toolstack/dm.ts';
import { okSpawn } from './fixture.ts';

const S = 1e9;
const MS = 1e6;

function setup(legacy: boolean, xenpv = true) {
  const fx = makeFixture({ libxl: { legacyDmPath: legacy, xenpvQemu: xenpv } });
  let pid = 500;
  const dms = new DeviceModels(fx.sim, fx.xsd, () => pid++);
  Object.assign(okSpawn, {}); // okSpawn stays shared; give this libxl its own port
  (fx.libxl as { spawn: unknown }).spawn = {
    hotplug: okSpawn.hotplug,
    deviceModel: (d: number, dm: number, o: { legacy: boolean; role: 'dm' | 'xenpv' }) => dms.spawn(d, dm, o),
    deviceModelDestroy: (d: number) => dms.destroy(d),
  };
  return { fx, dms };
}

const hvmCfg = parseDomainConfig('hvm.cfg', 'name="hvm1"\ntype="hvm"\n');
const stubCfg = parseDomainConfig('stub.cfg', 'name="hvm2"\ntype="hvm"\ndevice_model_stubdomain_override=1\n');

const dm = suite('device model startup protocol');

dm('fixed: dom0 DM and stubdom DM publish under their own domains; libxl waits for the right one', () => {
  const { fx, dms } = setup(false);
  const a = fx.run(() => fx.libxl.domainCreate(hvmCfg));
  assert.is(a.rc, 0);
  assert.is(fx.sim.now, 300 * MS);
  assert.is(fx.read('/local/domain/0/device-model/1/state'), 'running');
  const t0 = fx.sim.now;
  const b = fx.run(() => fx.libxl.domainCreate(stubCfg));
  assert.equal(b, { rc: 0, domid: 2 });
  const stub = fx.libxl.stubdoms.get(2)!;
  assert.is(stub, 3);
  assert.is(fx.sim.now - t0, 2 * S, 'libxl waited for the stub domain DM, not the xenpv one');
  assert.is(fx.read('/local/domain/3/device-model/2/state'), 'running');
  assert.is(fx.read('/local/domain/0/device-model/2/state'), 'running'); // the xenpv qemu, its own node
  assert.is(fx.read('/local/domain/3/target'), '2');
  assert.equal(fx.libxl.log, []);
  assert.ok(dms.procs.every((p) => p.error === undefined));
});

dm('legacy: the xenpv QEMU collides with the stubdom DM; libxl proceeds before the DM is up', () => {
  const { fx, dms } = setup(true);
  const b = fx.run(() => fx.libxl.domainCreate(stubCfg));
  assert.is(b.rc, 0);
  assert.is(fx.sim.now, 50 * MS, 'readiness taken from the dom0 xenpv QEMU at 50 ms');
  fx.sim.run({ until: 5 * S });
  const stubDm = dms.procs.find((p) => p.dmDomid !== 0)!;
  assert.is(stubDm.published, '/local/domain/0/device-model/1/state');
  assert.is(stubDm.error, 'EACCES');
});

dm('legacy without a dom0 QEMU: the stub domain cannot publish, libxl times out (30 s)', () => {
  const { fx } = setup(true, false);
  const b = fx.run(() => fx.libxl.domainCreate(stubCfg));
  assert.is(b.rc, -9);
  assert.ok(fx.sim.now >= 30 * S);
  assert.match(fx.libxl.log[0]!, /^libxl: error: libxl_exec\.c:\d+:spawn_watch_event: Domain 1:stub domain did not start: timed out waiting for \/local\/domain\/0\/device-model\/1\/state$/);
  assert.match(fx.libxl.log[1]!, /device_model_spawn_outcome: Domain 1:domain 1 device model: spawn failed \(rc=-9\)$/);
});

dm.run();
