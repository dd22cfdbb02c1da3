// Scenario 3 (docs/architecture.md §6.3): the device-model startup protocol.
//
// Fixed: each device model publishes `state = running` under its own domain
// (/local/domain/<dm-domid>/device-model/<domid>/state) and libxl waits where
// it put the device model. Legacy: every device model writes the hard-coded
// /local/domain/0/device-model/<domid>/state; with a stub domain the dom0
// "xenpv" QEMU and the stub domain's QEMU collide on that node (libxl goes on
// before the stub domain's device model is up), and without a dom0 QEMU the
// stub domain cannot write dom0's tree at all, so libxl times out.

import { Machine } from '../machine.ts';
import { DeviceModels } from '../../dom0/toolstack/dm.ts';
import { StopScenario, type Scenario, type ScenarioOptions, type ScenarioResult } from './types.ts';
import { makeDriver } from './driver.ts';

const S = 1e9;
const fmtT = (ns: number) => `${(ns / S).toFixed(3)}s`;

const CFG = {
  'hvm1.cfg': 'name = "hvm1"\ntype = "hvm"\nmemory = 64\n',
  'hvm2.cfg': 'name = "hvm2"\ntype = "hvm"\nmemory = 64\ndevice_model_stubdomain_override = 1\n',
  'hvm3.cfg': 'name = "hvm3"\ntype = "hvm"\nmemory = 64\ndevice_model_stubdomain_override = 1\n',
};

const STEPS = ['boot', 'dom0-dm', 'stubdom-dm', 'stubdom-alone', 'teardown'] as const;

export const dmStartup: Scenario = {
  name: 'dm-startup',
  describe: 'device model readiness under /local/domain/<dm-domid>/… (fixed) vs a hard-coded dom0 path (--legacy)',
  steps: STEPS,
  async run(opts: ScenarioOptions): Promise<ScenarioResult> {
    const legacy = opts.legacy ?? false;
    const host = new Machine({ seed: opts.seed, trace: opts.trace ?? false, legacyDmPath: legacy, ...(opts.scheduler ? { scheduler: opts.scheduler } : {}) });
    for (const [k, v] of Object.entries(CFG)) host.files.set(k, v);
    const { tr, xl, stop } = makeDriver(host, opts);
    const dmNotes = (from: number) => {
      for (const e of host.dms.events) if (e.t >= from && e.what !== 'starting') tr.note(`t=${fmtT(e.t)} ${e.who}: ${e.what}`);
    };
    try {
      tr.step('boot', `dm-startup (${legacy ? 'legacy: hard-coded /local/domain/0 path' : 'fixed: readiness under the DM\'s own domain'}), seed ${opts.seed}`);
      xl('list');
      stop('boot');

      tr.step('dom0-dm', 'an HVM guest whose device model runs in dom0');
      let t0 = host.sim.now;
      let r = xl('create hvm1.cfg');
      dmNotes(t0);
      tr.note(`libxl waited on ${host.libxl.dmStatePath(1, 0)}; create took ${fmtT(host.sim.now - t0)}`);
      tr.cmd('xenstore-read /local/domain/0/device-model/1/state', host.xenstoreRead('/local/domain/0/device-model/1/state'));
      tr.check('create succeeds', r.code === 0, r.stderr);
      tr.check('ready when the dom0 QEMU is (0.300 s)', host.sim.now - t0 === 0.3 * S, fmtT(host.sim.now - t0));
      stop('dom0-dm');

      tr.step('stubdom-dm', 'an HVM guest whose device model runs in a stub domain (plus the dom0 xenpv QEMU)');
      t0 = host.sim.now;
      const evFrom = host.dms.events.length;
      r = xl('create hvm2.cfg');
      const took = host.sim.now - t0;
      const stub = host.libxl.stubdoms.get(2);
      tr.note(`libxl waited on ${host.libxl.dmStatePath(2, stub ?? -1)}; create took ${fmtT(took)}`);
      // Let the stub domain's QEMU finish starting, then look.
      host.sim.run({ until: t0 + 3 * S });
      for (const e of host.dms.events.slice(evFrom)) if (e.what !== 'starting') tr.note(`t=${fmtT(e.t)} ${e.who}: ${e.what}`);
      xl('list');
      tr.cmd('xenstore-ls /local/domain/0/device-model', host.xenstoreLs('/local/domain/0/device-model'));
      if (stub !== undefined) tr.cmd(`xenstore-ls /local/domain/${stub}/device-model`, host.xenstoreLs(`/local/domain/${stub}/device-model`));
      tr.check('create succeeds', r.code === 0, r.stderr);
      tr.check('stub domain is d3', stub === 3, String(stub));
      const stubDm = host.dms.procs.find((p) => p.domid === 2 && p.dmDomid !== 0);
      if (!legacy) {
        tr.check('libxl waited for the stub domain\'s QEMU (2.000 s)', took === 2 * S, fmtT(took));
        tr.check('the stub domain published under its own home', stubDm?.published === DeviceModels.publishPath(2, 3, false) && stubDm.error === undefined, `${stubDm?.published} ${stubDm?.error ?? ''}`);
      } else {
        tr.note('COLLISION: the dom0 xenpv QEMU\'s "running" on the shared node was taken for the stub domain\'s readiness');
        tr.check('libxl went on at 0.050 s, before the stub DM was up', took === 0.05 * S, fmtT(took));
        tr.check('the stub domain could not write dom0\'s node (EACCES)', stubDm?.error === 'EACCES', stubDm?.error);
      }
      stop('stubdom-dm');

      tr.step('stubdom-alone', 'a stub-domain device model without a dom0 QEMU beside it');
      host.libxl.opts.xenpvQemu = false;
      t0 = host.sim.now;
      r = xl('create hvm3.cfg');
      host.libxl.opts.xenpvQemu = true;
      tr.note(`create returned after ${fmtT(host.sim.now - t0)}`);
      if (!legacy) {
        tr.check('create succeeds in 2 s', r.code === 0 && host.sim.now - t0 === 2 * S, `${r.code} ${fmtT(host.sim.now - t0)}`);
      } else {
        tr.check('create times out after LIBXL_STUBDOM_START_TIMEOUT (30 s)', r.code !== 0 && host.sim.now - t0 >= 30 * S, `${r.code} ${fmtT(host.sim.now - t0)}`);
        tr.check('libxl says the stub domain did not start', /stub domain did not start/.test(r.stderr));
      }
      stop('stubdom-alone');

      tr.step('teardown', 'destroy everything');
      for (const name of ['hvm1', 'hvm2', 'hvm3']) {
        const id = host.hv.domains().find((d) => d.name === name && !d.dying);
        if (id) xl(`destroy ${name}`);
      }
      r = xl('list');
      tr.check('only Domain-0 is left', r.stdout.trim().split('\n').length === 2, r.stdout);
    } catch (e) {
      if (!(e instanceof StopScenario)) throw e;
    }
    const failures = tr.failures;
    return { name: 'dm-startup', options: opts, transcript: tr, host, ok: failures.length === 0, failures, replay: `xenode scenario dm-startup${legacy ? ' --legacy' : ''} --seed ${opts.seed}` };
  },
};
