/**
 * What an event is and which states it may move between: one table, shared by the parts
 * that decide (events/, dispatch/) without them importing each other. Only
 * events/lifecycle.ts applies a move, and it refuses one this table does not allow.
 */
import type { ViolationType } from '../rules/catalogue.ts';
import type { Box } from '../zones/geometry.ts';

/**
 * confirmed → warned → rechecked → resolved_by_warning
 *                                 → escalated → dispatched → acknowledged → arrived → closed
 * confirmed → escalated (warning failed, quiet hours, no speaker, rate limited)
 * warned → escalated (the camera gave no picture for the recheck)
 * escalated → unassigned (nobody available) → dispatched (when someone becomes available)
 * dispatched → escalated (declined, no answer: the next-nearest is asked)
 * any open state → closed (by the platform) | cancelled
 */
export const LIFECYCLE = {
  confirmed: ['warned', 'escalated'],
  warned: ['rechecked', 'escalated'],
  rechecked: ['resolved_by_warning', 'escalated'],
  resolved_by_warning: [],
  escalated: ['dispatched', 'unassigned'],
  dispatched: ['acknowledged', 'escalated'],
  unassigned: ['dispatched'],
  acknowledged: ['arrived'],
  arrived: [],
  closed: [],
  cancelled: [],
} as const;

export type EventState = keyof typeof LIFECYCLE;
export const EVENT_STATES = Object.keys(LIFECYCLE) as EventState[];
export const TERMINAL: ReadonlySet<EventState> = new Set(['resolved_by_warning', 'closed', 'cancelled']);

/** Whether `from` may move to `to`: the table, plus closed and cancelled from any open state. */
export function allowed(from: EventState, to: EventState): boolean {
  if (TERMINAL.has(from)) return false;
  if (to === 'closed' || to === 'cancelled') return true;
  return (LIFECYCLE[from] as readonly EventState[]).includes(to);
}

export interface EventRecord {
  seq: number;
  id: string;
  type: ViolationType;
  camera: string;
  zone: string;
  state: EventState;
  trackIds: number[];
  classes: string[];
  box: Box;
  firstSeenAt: number;
  confirmedAt: number;
  /** When the next timer of this event fires (recheck, acknowledgement timeout). */
  dueAt: number | null;
  evidencePath: string | null;
  evidenceSha256: string | null;
  officerId: string | null;
  reason: string | null;
  data: Record<string, unknown>;
  updatedAt: number;
  closedAt: number | null;
}
