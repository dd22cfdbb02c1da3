// What every scenario takes and returns.
import type { Machine } from '../machine.ts';
import type { Scheduler } from '../../sim/index.ts';
import type { Transcript } from './transcript.ts';

export interface ScenarioOptions {
  seed: number;
  /** Who answers scheduling decisions (`xenode explore`); default: random on the seed. */
  scheduler?: Scheduler;
  trace?: boolean;
  /** xenwatch-stall: which backend stalls. */
  backend?: 'netback' | 'blkback-io' | 'blkback-grant';
  /** xenwatch-stall: dom0's watch threads. */
  xenwatch?: 'single' | 'mtwatch';
  /** dm-startup: the broken, hard-coded dom0 path. */
  legacy?: boolean;
  /** frontend-handover: the backend whose frontend is handed over (netfront or blkfront). */
  handoverBackend?: 'netback' | 'blkback';
  /** frontend-handover: hand-overs, and detach/attach rounds (default 3). */
  cycles?: number;
  /** missed-event: the runtime variant (fixed, june-2020, unmask=checks-mask, ...). */
  variant?: string;
  /** missed-event: netfront-setup | ping-flood | xenstore. */
  workload?: string;
  /** missed-event: echo requests (ping-flood) or xenstore commands. */
  count?: number;
  /** Stop after the step with this id (ps/stack look at the machine there). */
  stopAfter?: string;
}

export interface ScenarioResult {
  name: string;
  options: ScenarioOptions;
  transcript: Transcript;
  host: Machine;
  ok: boolean;
  failures: string[];
  /** How to replay this run. */
  replay: string;
}

export interface Scenario {
  name: string;
  describe: string;
  /** Step ids, in order (for --stop-after and the CLI's help). */
  steps: readonly string[];
  run(opts: ScenarioOptions): Promise<ScenarioResult>;
}

export class StopScenario extends Error {}
