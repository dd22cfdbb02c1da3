// The scenarios `xenode scenario NAME` plays.
import { dmStartup } from './dm_startup.ts';
import { frontendHandover } from './frontend_handover.ts';
import { makeStallScenario } from './xenwatch_stall.ts';
import { missedEvent } from './missed_event.ts';
import type { Scenario } from './types.ts';

export const xenwatchStall = makeStallScenario();

export const scenarios: Record<string, Scenario> = {
  [missedEvent.name]: missedEvent,
  [xenwatchStall.name]: xenwatchStall,
  [dmStartup.name]: dmStartup,
  [frontendHandover.name]: frontendHandover,
};

export type { Scenario, ScenarioOptions, ScenarioResult } from './types.ts';
export { Transcript } from './transcript.ts';
