/** The rows the statistics are computed from: events confirmed in a window, their transitions and dispatches. */
import type { Db } from './db.ts';

export interface StatsRows {
  events: { id: string; type: string; camera_id: string; zone_id: string; state: string; confirmed_at: number; closed_at: number | null }[];
  transitions: { event_id: string; to_state: string; at: number }[];
  dispatches: { state: string; tier: string; accepted_at: number | null }[];
}

/** Events confirmed in [since, until), in order, with their transitions and dispatches. */
export function statsRows(db: Db, since: number, until: number): StatsRows {
  const events = db
    .prepare(`SELECT id, type, camera_id, zone_id, state, confirmed_at, closed_at FROM events
    WHERE confirmed_at >= ? AND confirmed_at < ? ORDER BY seq`)
    .all(since, until) as StatsRows['events'];
  const transitions = db
    .prepare(`SELECT t.event_id, t.to_state, t.at FROM event_transitions t JOIN events e ON e.id = t.event_id
    WHERE e.confirmed_at >= ? AND e.confirmed_at < ? ORDER BY t.id`)
    .all(since, until) as StatsRows['transitions'];
  const dispatches = db
    .prepare(`SELECT d.state, d.tier, d.accepted_at FROM dispatches d JOIN events e ON e.id = d.event_id
    WHERE e.confirmed_at >= ? AND e.confirmed_at < ?`)
    .all(since, until) as StatsRows['dispatches'];
  return { events, transitions, dispatches };
}
