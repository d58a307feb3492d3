/** The dispatcher's settings. */
import type { Settings } from '../settings/schema.ts';
import type { TownRule } from './select.ts';

export interface DispatchConfig extends TownRule {
  positionMaxAgeS: number;
  deadlineS: number;
  ackTimeoutS: number;
  maxJobsPerOfficer: number;
  retryS: number;
  reaskAfterS: number;
}

export const DEFAULT_DISPATCH: Omit<DispatchConfig, 'positionMaxAgeS' | 'deadlineS'> = {
  ackTimeoutS: 120,
  localRadiusM: 3000,
  neighbourTowns: [],
  maxJobsPerOfficer: 1,
  retryS: 30,
  reaskAfterS: 900,
};

/** The dispatcher's settings: dispatch.* and the box's own town. */
export function dispatchConfig(s: Settings): DispatchConfig {
  const d = s.dispatch;
  return {
    positionMaxAgeS: d.position_max_age_s,
    deadlineS: d.deadline_s,
    ackTimeoutS: d.ack_timeout_s,
    localRadiusM: d.local_radius_m,
    neighbourTowns: d.neighbour_towns,
    homeTown: s.gateway.town,
    maxJobsPerOfficer: d.max_jobs_per_officer,
    retryS: d.retry_s,
    reaskAfterS: d.reask_after_s,
  };
}
