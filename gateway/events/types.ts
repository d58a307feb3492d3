import type { ViolationType } from '../rules/catalogue.ts';
import type { Box } from '../zones/geometry.ts';

/**
 * confirmed → warned → rechecked → resolved_by_warning
 *                                 → escalated → dispatched → acknowledged → arrived → closed
 * confirmed → escalated (warning failed, quiet hours, no speaker)
 * escalated → unassigned (nobody available) → dispatched (when someone becomes available)
 * any open state → cancelled
 */
export const EVENT_STATES = [
  'confirmed',
  'warned',
  'rechecked',
  'resolved_by_warning',
  'escalated',
  'dispatched',
  'unassigned',
  'acknowledged',
  'arrived',
  'closed',
  'cancelled',
] as const;
export type EventState = (typeof EVENT_STATES)[number];

export const TERMINAL: ReadonlySet<EventState> = new Set(['resolved_by_warning', 'closed', 'cancelled']);

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
