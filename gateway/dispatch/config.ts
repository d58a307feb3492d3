import type { Settings } from '../settings/schema.ts';
import type { DispatchConfig } from './dispatcher.ts';

/** The dispatcher's settings: dispatch.* and the box's own town. */
export function dispatchConfig(s: Settings): DispatchConfig {
  const d = s.dispatch;
  return {
    positionMaxAgeS: d.position_max_age_s, deadlineS: d.deadline_s, ackTimeoutS: d.ack_timeout_s, localRadiusM: d.local_radius_m,
    neighbourTowns: d.neighbour_towns, homeTown: s.gateway.town, maxJobsPerOfficer: d.max_jobs_per_officer, retryS: d.retry_s, reaskAfterS: d.reask_after_s,
  };
}
