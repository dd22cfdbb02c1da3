// The scenarios `xenode scenario NAME` plays.
import { dmStartup } from './dm_startup.ts';
import type { Scenario } from './types.ts';

export const scenarios: Record<string, Scenario> = {
  [dmStartup.name]: dmStartup,
};

export type { Scenario, ScenarioOptions, ScenarioResult } from './types.ts';
export { Transcript } from './transcript.ts';
