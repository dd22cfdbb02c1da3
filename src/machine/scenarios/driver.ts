// What every scenario does to its host: a transcript whose steps are marked
// in the Chrome trace, `xl` and shell commands echoed into it, `--stop-after`,
// and running the simulation for a while or until a condition holds (in
// slices, so a condition is seen soon after it becomes true).

import { Machine, STEP_TID } from '../machine.ts';
import type { XlResult } from '../../dom0/toolstack/xl.ts';
import { Transcript } from './transcript.ts';
import { StopScenario, type ScenarioOptions } from './types.ts';

const MS = 1_000_000;

export interface Driver {
  readonly tr: Transcript;
  /** Run `xl CMD` to completion and echo it with its output. */
  xl(cmd: string): XlResult;
  /** Echo a shell command with the given output. */
  sh(cmd: string, out: string): void;
  /** Throw StopScenario if the user asked to stop after step `id`. */
  stop(id: string): void;
  runFor(ns: number): void;
  /**
   * Run until `cond()` or `limitNs` of virtual time; false on the limit or
   * when `abort()` says to give up early.
   */
  runUntil(cond: () => boolean, limitNs: number, opts?: { sliceNs?: number; abort?: () => boolean }): boolean;
}

export function makeDriver(host: Machine, opts: Pick<ScenarioOptions, 'stopAfter'>): Driver {
  const tr = new Transcript(() => host.sim.now, (st) => {
    if (host.sim.trace.enabled) {
      host.sim.trace.threadName(0, STEP_TID, 'scenario steps');
      host.sim.trace.instant(0, STEP_TID, st.title, { step: st.id }, 'scenario');
    }
  });
  return {
    tr,
    xl(cmd) {
      const r = host.xlSync(cmd);
      tr.cmd(`xl ${cmd}`, r);
      return r;
    },
    sh(cmd, out) {
      tr.cmd(cmd, { stdout: out, stderr: '' });
    },
    stop(id) {
      if (opts.stopAfter === id) throw new StopScenario(id);
    },
    runFor(ns) {
      runTo(host, host.sim.now + ns);
    },
    runUntil(cond, limitNs, { sliceNs = 10 * MS, abort } = {}) {
      const end = host.sim.now + limitNs;
      while (!cond()) {
        if (host.sim.now >= end || abort?.()) return cond();
        // Idle: no task and no timer, so nothing can make cond() true.
        if (runTo(host, Math.min(end, host.sim.now + sliceNs)) === 'idle') return cond();
      }
      return true;
    },
  };
}

/**
 * Run to `until`. An idle machine (no task, no timer: every thread waits on
 * something only another thread could give) returns from Sim.run without
 * moving the clock; time still passes for the user, so the clock is moved to
 * `until` here. Without this a caller looping until `now >= end` never ends.
 */
function runTo(host: Machine, until: number): 'idle' | 'ran' {
  const r = host.sim.run({ until });
  if (r.reason !== 'idle') return 'ran';
  if (host.sim.now < until) host.sim.clock.advanceTo(until);
  return 'idle';
}
