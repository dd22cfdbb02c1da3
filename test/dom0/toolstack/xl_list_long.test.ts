import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Machine } from '../../../src/machine/machine.ts';
import { yajlBeautify } from '../../../src/dom0/toolstack/libxl_json.ts';

const t = suite('xl list -l: libxl_domain_config as yajl prints it');

t("yajl's beautifier: 4-space indent, \"key\": value, empty maps and arrays as {\\n\\n<indent>}", () => {
  assert.is(yajlBeautify([{ a: 1, b: {}, c: [], d: ['x', 'True'] }]),
    '[\n    {\n        "a": 1,\n        "b": {\n\n        },\n        "c": [\n\n        ],\n        "d": [\n            "x",\n            "True"\n        ]\n    }\n]\n');
});

t('golden: a PVH guest with a disk and a vif, and dom0\'s stub', () => {
  const h = new Machine({ seed: 4 });
  h.files.set('g.cfg', 'name = "g"\nmemory = 8\nvcpus = 2\nextra = "console=hvc0"\nvif = ["bridge=xenbr0"]\ndisk = ["format=raw, vdev=xvda, access=rw, target=/srv/g.img"]\non_poweroff = "preserve"\n');
  assert.is(h.xlSync('create g.cfg').code, 0);
  const uuid = h.libxl.uuids.get(1)!;
  const mac = h.xenstoreRead('/libxl/1/device/vif/0/mac').stdout.trim();
  assert.match(mac, /^00:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
  const r = h.xlSync('list -l g');
  assert.equal([r.code, r.stderr], [0, '']);
  assert.is(r.stdout, `[
    {
        "domid": 1,
        "config": {
            "c_info": {
                "type": "pvh",
                "name": "g",
                "uuid": "${uuid}",
                "run_hotplug_scripts": "True"
            },
            "b_info": {
                "max_vcpus": 2,
                "avail_vcpus": [
                    0,
                    1
                ],
                "max_memkb": 8192,
                "target_memkb": 8192,
                "sched_params": {
                    "sched": "credit2",
                    "weight": 256,
                    "cap": 0
                },
                "claim_mode": "False",
                "cmdline": "console=hvc0",
                "type.pvh": {

                },
                "arch_arm": {

                },
                "arch_x86": {

                }
            },
            "disks": [
                {
                    "pdev_path": "/srv/g.img",
                    "vdev": "xvda",
                    "format": "raw",
                    "readwrite": 1
                }
            ],
            "nics": [
                {
                    "mac": "${mac}",
                    "bridge": "xenbr0"
                }
            ],
            "on_poweroff": "preserve",
            "on_reboot": "restart",
            "on_watchdog": "destroy",
            "on_crash": "destroy",
            "on_soft_reset": "soft_reset"
        }
    }
]

`);
  const all = JSON.parse(h.xlSync('list -l').stdout) as { domid: number; config: { c_info: { name: string } } }[];
  assert.equal(all.map((d) => [d.domid, d.config.c_info.name]), [[0, 'Domain-0'], [1, 'g']]);
  assert.equal([h.xlSync('list -l 7').code, h.xlSync('list -l 7').stderr], [1, "Error: Domain '7' does not exist.\n"]);
  assert.equal([h.xlSync('list -l nosuch').code, h.xlSync('list -l nosuch').stderr], [1, 'nosuch is an invalid domain identifier (rc=-6)\n']);
  assert.is(h.xlSync('list -Z').code, 2);
  // Devices follow xenstore: a hot-plugged vif appears (after libxl's setdefault), a detached disk goes.
  assert.is(h.xlSync('network-attach g mac=00:16:3e:aa:bb:cc').code, 0);
  assert.is(h.xlSync('block-detach g xvda').code, 0);
  const cfg = (JSON.parse(h.xlSync('list -l g').stdout) as { config: Record<string, unknown> }[])[0]!.config;
  assert.is(cfg['disks'], undefined);
  assert.equal(cfg['nics'], [
    { mac, bridge: 'xenbr0' },
    { devid: 1, mac: '00:16:3e:aa:bb:cc', bridge: 'xenbr0', script: '/etc/xen/scripts/vif-bridge' },
  ]);
  // Destroyed: its stored configuration goes with it.
  assert.is(h.xlSync('destroy g').code, 0);
  assert.is(JSON.parse(h.xlSync('list -l').stdout).length, 1);
});

t.run();
