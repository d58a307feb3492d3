/** The dispatcher's settings, and what it needs from the event lifecycle. */
import type { Settings } from '../settings/schema.ts';
import type { TownRule } from './select.ts';
import type { EventRecord, EventState } from '../events/types.ts';
import type { TransitionNote } from '../api/schema/events.ts';

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

/** What the dispatcher needs from the event lifecycle (gateway/events/service.ts). */
export interface Lifecycle {
  transition(
    e: EventRecord,
    to: EventState,
    patch?: Partial<Pick<EventRecord, 'dueAt' | 'reason' | 'officerId'>>,
    note?: TransitionNote,
    proceed?: boolean,
  ): EventRecord;
  schedule(e: EventRecord): void;
  /** Runs the events in `state` now rather than at their due time. */
  wake(state: EventState): void;
}

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
