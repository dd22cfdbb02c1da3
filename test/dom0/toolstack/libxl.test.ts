import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeFixture } from './fixture.ts';
import { parseDomainConfig } from '../../../src/dom0/toolstack/cfg.ts';
import { xlMain } from '../../../src/dom0/toolstack/xl.ts';

const CFG = `name = "guest1"
memory = 64
vcpus = 1
vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]
disk = [ 'format=raw, vdev=xvda, access=rw, target=/srv/g1.img' ]
`;
const S = 1e9;
const sorted = (a: string[]) => [...a].sort();

const create = suite('libxl create');

create('domain make + build post: the §6.1 key set, perms, introduce, devices, unpause', () => {
  const fx = makeFixture({ backend: true });
  const cfg = parseDomainConfig('g.cfg', CFG);
  const r = fx.run(() => fx.libxl.domainCreate(cfg));
  assert.equal(r, { rc: 0, domid: 1 });
  const uuid = fx.libxl.uuids.get(1)!;
  const dom = fx.dump('/local/domain/1').map((l) => l.replace('/local/domain/1', 'D'));
  const expected = [
    'D=', 'D/attr=', 'D/control=', 'D/control/feature-poweroff=', 'D/control/feature-reboot=', 'D/control/feature-suspend=',
    'D/control/platform-feature-multiprocessor-suspend=1', 'D/control/platform-feature-xs_reset_watches=1', 'D/control/shutdown=',
    'D/control/sysrq=', 'D/cpu=', 'D/cpu/0=', 'D/cpu/0/availability=online', 'D/data=', 'D/device=',
    'D/device/vbd=', 'D/device/vbd/51712=', 'D/device/vbd/51712/backend=/local/domain/0/backend/vbd/1/51712', 'D/device/vbd/51712/backend-id=0',
    'D/device/vbd/51712/device-type=disk', 'D/device/vbd/51712/protocol=x86_64-abi', 'D/device/vbd/51712/state=1', 'D/device/vbd/51712/trusted=1',
    'D/device/vbd/51712/virtual-device=51712',
    'D/device/vif=', 'D/device/vif/0=', 'D/device/vif/0/backend=/local/domain/0/backend/vif/1/0', 'D/device/vif/0/backend-id=0',
    'D/device/vif/0/handle=0', 'D/device/vif/0/mac=00:16:3e:00:00:01', 'D/device/vif/0/mtu=1500', 'D/device/vif/0/state=1', 'D/device/vif/0/trusted=1',
    'D/domid=1', 'D/drivers=', 'D/error=', 'D/feature=', 'D/memory=', 'D/memory/static-max=65536', 'D/memory/target=65536', 'D/memory/videoram=-1',
    'D/name=guest1', 'D/store=', 'D/store/port=1', `D/store/ring-ref=${0xfeffc}`, `D/vm=/vm/${uuid}`,
  ];
  assert.equal(dom, [...expected].sort());
  assert.equal(fx.dump(`/vm/${uuid}`), sorted([`/vm/${uuid}=`, `/vm/${uuid}/name=guest1`, `/vm/${uuid}/start_time=0.00`, `/vm/${uuid}/uuid=${uuid}`]));
  assert.is(fx.read('/libxl/1/type'), 'pvh');
  const be = fx.dump('/local/domain/0/backend/vif/1/0').map((l) => l.replace('/local/domain/0/backend/vif/1/0', 'B'));
  assert.equal(be, sorted(['B=', 'B/bridge=xenbr0', 'B/frontend=/local/domain/1/device/vif/0', 'B/frontend-id=1', 'B/handle=0', 'B/hotplug-status=',
    'B/mac=00:16:3e:00:00:01', 'B/online=1', 'B/script=/etc/xen/scripts/vif-bridge', 'B/state=2', 'B/type=vif']));
  const vbd = fx.dump('/local/domain/0/backend/vbd/1/51712').map((l) => l.replace('/local/domain/0/backend/vbd/1/51712', 'B'));
  assert.equal(vbd, sorted(['B=', 'B/bootable=1', 'B/dev=xvda', 'B/device-type=disk', 'B/discard-enable=1', 'B/frontend=/local/domain/1/device/vbd/51712',
    'B/frontend-id=1', 'B/mode=w', 'B/online=1', 'B/params=/srv/g1.img', 'B/removable=0', 'B/script=/etc/xen/scripts/block', 'B/specification=xen', 'B/state=2', 'B/type=phy']));
  // perms: domain home readable by the guest; backend owned by dom0, readable by the guest; frontend owned by the guest
  const perms = (p: string) => fx.xsd.store.get(p)!.perms.map((x) => `${'nrwb'[x.perm & 3]}${x.id}`);
  assert.equal(perms('/local/domain/1'), ['n0', 'r1']);
  assert.equal(perms('/local/domain/1/data'), ['n1']);
  assert.equal(perms('/local/domain/1/control'), ['n0', 'r1']);
  assert.equal(perms('/local/domain/0/backend/vif/1/0'), ['n0', 'r1']);
  assert.equal(perms('/local/domain/1/device/vif/0'), ['n1', 'r0']);
  assert.equal(perms('/libxl/1'), ['n0']);
  assert.ok(fx.xsd.domains.get(1)?.introduced, 'introduced');
  // order: create, build, then unpause after the devices
  assert.equal(fx.hv.calls, ['create 1', 'build 1', 'unpause 1']);
  assert.is(fx.sim.now, 0, 'a healthy create takes no virtual time waiting');
});

create('disks are added (and waited for) before nics', () => {
  const fx = makeFixture({ backend: true });
  const order: string[] = [];
  fx.xsd.connectLocal(); // unrelated connection
  const origWrite = fx.xs.write.bind(fx.xs);
  fx.xs.write = function* (tx, path, value) {
    if (/\/backend\/(vif|vbd)\/\d+\/\d+\/state$/.test(path)) order.push(path.split('/')[5]!);
    yield* origWrite(tx, path, value);
  };
  fx.run(() => fx.libxl.domainCreate(parseDomainConfig('g.cfg', CFG)));
  assert.equal(order, ['vbd', 'vif']);
});

create('domids: sequential, skipping live and recently destroyed ones', () => {
  const fx = makeFixture({ backend: true });
  const mk = (n: string) => fx.run(() => fx.libxl.domainCreate(parseDomainConfig('g.cfg', `name="${n}"`))).domid;
  assert.is(mk('a'), 1);
  assert.is(mk('b'), 2);
  fx.run(() => fx.libxl.domainDestroy(1));
  assert.ok(fx.libxl.isDomidRecent(1));
  assert.is(mk('c'), 3);
});

create('no backend: the exact 4.11 failure chain for a disk (docs/architecture.md §5.1 step 5), 20 s virtual', () => {
  const fx = makeFixture({ backend: false });
  fx.hv.xc_domain_create(1, parseDomainConfig('z.cfg', 'name="zombie"'), 'x'); // domain 1 exists (dying zombie)
  const r = fx.run(() => fx.libxl.domainCreate(parseDomainConfig('pv.cfg', 'name="pv"\ndisk=["vdev=xvda,target=/x.img"]')));
  assert.equal(r, { rc: -9, domid: 2 });
  assert.equal(fx.libxl.log, [
    'libxl: error: libxl_device.c:1080:device_backend_callback: Domain 2:unable to add device with path /local/domain/0/backend/vbd/2/51712',
    'libxl: error: libxl_create.c:1278:domcreate_launch_dm: Domain 2:unable to add disk devices',
    'libxl: error: libxl_device.c:1080:device_backend_callback: Domain 2:unable to remove device with path /local/domain/0/backend/vbd/2/51712',
    'libxl: error: libxl_domain.c:1073:devices_destroy_cb: Domain 2:libxl__devices_destroy failed',
    'libxl: error: libxl_domain.c:1000:libxl__destroy_domid: Domain 2:Non-existant domain',
    'libxl: error: libxl_domain.c:959:domain_destroy_callback: Domain 2:Unable to destroy guest',
    'libxl: error: libxl_domain.c:886:domain_destroy_cb: Domain 2:Destruction of domain failed',
  ]);
  assert.is(fx.sim.now, 20 * S);
  assert.equal(fx.dump('/local/domain/2'), []);
  assert.equal(fx.dump('/local/domain/0/backend/vbd/2/51712'), []);
  assert.is(fx.hv.xc_domain_getinfo(2), undefined);
});

const destroy = suite('libxl destroy');

destroy('healthy destroy removes every dir and the domain', () => {
  const fx = makeFixture({ backend: true });
  const cfg = parseDomainConfig('g.cfg', CFG);
  fx.run(() => fx.libxl.domainCreate(cfg));
  const uuid = fx.libxl.uuids.get(1)!;
  const rc = fx.run(() => fx.libxl.domainDestroy(1));
  assert.is(rc, 0);
  assert.equal(fx.libxl.log, []);
  assert.equal(fx.dump('/local/domain/1'), []);
  assert.equal(fx.dump(`/vm/${uuid}`), []);
  assert.equal(fx.dump('/libxl/1'), []);
  // libxl__xs_path_cleanup: the per-domain backend parent goes with its last device (it used to stay: +2 nodes a cycle).
  assert.equal(fx.dump('/local/domain/0/backend/vif/1'), []);
  assert.is(fx.hv.xc_domain_getinfo(1), undefined);
  assert.equal(fx.hv.calls.slice(-2), ['pause 1', 'destroy 1']);
});

destroy('stuck backend: the two destroy lines, the dirs go anyway, (null) in xl list', () => {
  const fx = makeFixture({ backend: true });
  fx.run(() => fx.libxl.domainCreate(parseDomainConfig('g.cfg', 'name="g"\nvif=["bridge=xenbr0"]')));
  // The backend stops answering (stuck xenwatch), and netback holds the guest's grants.
  fx.hv.pinned.add(1);
  const conn = fx.xsd.connectLocal();
  void conn;
  for (const c of [...fx.xsd.connections]) if (c.watches.some((w) => w.token === 'be')) fx.xsd.closeConnection(c);
  const res = fx.run(() => xlMain({ libxl: fx.libxl, readFile: () => undefined }, ['destroy', '1']));
  assert.is(res.code, 0);
  assert.is(res.stderr, [
    'libxl: error: libxl_device.c:1080:device_backend_callback: Domain 1:unable to remove device with path /local/domain/0/backend/vif/1/0',
    'libxl: error: libxl_domain.c:1073:devices_destroy_cb: Domain 1:libxl__devices_destroy failed',
  ].join('\n') + '\n');
  assert.is(fx.sim.now, 10 * S);
  assert.equal(fx.dump('/local/domain/1'), []);
  const list = fx.run(() => xlMain({ libxl: fx.libxl, readFile: () => undefined }, ['list']));
  assert.is(list.stdout.split('\n')[2], '(null)                                       1     0     1     --p--d       0.0');
});

destroy('xl destroy exits 1 when libxl fails: xc_domain_destroy finds the domain gone (destroyed meanwhile)', () => {
  const fx = makeFixture({ backend: true });
  fx.run(() => fx.libxl.domainCreate(parseDomainConfig('g.cfg', 'name="g"\nvif=["bridge=xenbr0"]')));
  // Another toolstack destroys domain 1 between libxl's domain_info and its xc_domain_destroy.
  const real = fx.hv.xc_domain_destroy.bind(fx.hv);
  fx.hv.xc_domain_destroy = (d: number) => {
    real(d);
    return real(d);
  };
  const res = fx.run(() => xlMain({ libxl: fx.libxl, readFile: () => undefined }, ['destroy', '1']));
  assert.is(res.code, 1);
  assert.is(res.stderr, [
    'libxl: error: libxl_domain.c:1138:domain_destroy_domid_cb: Domain 1:xc_domain_destroy failed: No such process',
    'libxl: error: libxl_domain.c:959:domain_destroy_callback: Domain 1:Unable to destroy guest',
    'libxl: error: libxl_domain.c:886:domain_destroy_cb: Domain 1:Destruction of domain failed',
    'destroy failed (rc=-3)',
  ].join('\n') + '\n');
});

destroy('xl destroy of an unknown domain', () => {
  const fx = makeFixture({});
  const res = fx.run(() => xlMain({ libxl: fx.libxl, readFile: () => undefined }, ['destroy', '7']));
  assert.is(res.code, 1);
  assert.is(res.stderr, '7 is an invalid domain identifier (rc=-6)\n');
});

create.run();
destroy.run();
