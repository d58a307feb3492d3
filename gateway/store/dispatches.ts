/** The dispatches table: one row per officer asked to handle an event. */
import type { Db } from './db.ts';

export const DISPATCH_STATES = ['offered', 'accepted', 'arrived', 'closed', 'declined', 'timed_out', 'withdrawn'] as const;
export type DispatchState = (typeof DISPATCH_STATES)[number];
/** States in which the officer holds the job (counts against max_jobs_per_officer). */
export const ACTIVE: readonly DispatchState[] = ['offered', 'accepted', 'arrived'];

export interface DispatchRecord {
  id: string;
  eventId: string;
  officerId: string;
  state: DispatchState;
  distanceM: number;
  town: string | null;
  tier: 'local' | 'neighbour';
  attempt: number;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
  /** When the offer times out (while offered). */
  dueAt: number | null;
  /** When the matter must be closed. */
  deadlineAt: number;
  acceptedAt: number | null;
  arrivedAt: number | null;
  closedAt: number | null;
}

interface Row {
  id: string;
  event_id: string;
  officer_id: string;
  state: string;
  distance_m: number;
  town: string | null;
  tier: string;
  attempt: number;
  reason: string | null;
  created_at: number;
  updated_at: number;
  due_at: number | null;
  deadline_at: number | null;
  accepted_at: number | null;
  arrived_at: number | null;
  closed_at: number | null;
}

const fromRow = (r: Row): DispatchRecord => ({
  id: r.id,
  eventId: r.event_id,
  officerId: r.officer_id,
  state: r.state as DispatchState,
  distanceM: r.distance_m,
  town: r.town,
  tier: r.tier === 'neighbour' ? 'neighbour' : 'local',
  attempt: r.attempt,
  reason: r.reason,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  dueAt: r.due_at,
  deadlineAt: r.deadline_at ?? r.created_at,
  acceptedAt: r.accepted_at,
  arrivedAt: r.arrived_at,
  closedAt: r.closed_at,
});

const active = ACTIVE.map((s) => `'${s}'`).join(', ');

export class DispatchesRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      insert:
        db.prepare(`INSERT INTO dispatches (id, event_id, officer_id, state, distance_m, town, tier, attempt, reason, created_at, updated_at, due_at, deadline_at)
        VALUES (@id, @eventId, @officerId, @state, @distanceM, @town, @tier, @attempt, @reason, @createdAt, @updatedAt, @dueAt, @deadlineAt)`),
      update: db.prepare(`UPDATE dispatches SET state = @state, reason = @reason, updated_at = @updatedAt, due_at = @dueAt,
        accepted_at = @acceptedAt, arrived_at = @arrivedAt, closed_at = @closedAt WHERE id = @id`),
      get: db.prepare('SELECT * FROM dispatches WHERE id = ?'),
      forEvent: db.prepare('SELECT * FROM dispatches WHERE event_id = ? ORDER BY created_at, rowid'),
      current: db.prepare(
        `SELECT * FROM dispatches WHERE event_id = ? AND state IN (${active}) ORDER BY created_at DESC, rowid DESC LIMIT 1`,
      ),
      activeJobs: db.prepare(`SELECT officer_id, count(*) AS n FROM dispatches WHERE state IN (${active}) GROUP BY officer_id`),
      refusedSince: db.prepare(
        `SELECT DISTINCT officer_id FROM dispatches WHERE event_id = ? AND state IN ('declined', 'timed_out') AND updated_at >= ?`,
      ),
      attempts: db.prepare('SELECT count(*) AS n FROM dispatches WHERE event_id = ?'),
    };
  }

  insert(d: DispatchRecord): void {
    this.q.insert.run(d);
  }

  update(d: DispatchRecord): void {
    this.q.update.run(d);
  }

  get(id: string): DispatchRecord | null {
    const r = this.q.get.get(id) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  forEvent(eventId: string): DispatchRecord[] {
    return (this.q.forEvent.all(eventId) as Row[]).map(fromRow);
  }

  /** The dispatch an event is waiting on (offered, accepted or arrived), if any. */
  current(eventId: string): DispatchRecord | null {
    const r = this.q.current.get(eventId) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  /** Officer id → open jobs, across all events. */
  activeJobs(): Map<string, number> {
    return new Map((this.q.activeJobs.all() as { officer_id: string; n: number }[]).map((r) => [r.officer_id, r.n]));
  }

  /** Officers who declined or let this event's offer time out since `since`. */
  refusedSince(eventId: string, since: number): Set<string> {
    return new Set((this.q.refusedSince.all(eventId, since) as { officer_id: string }[]).map((r) => r.officer_id));
  }

  attempts(eventId: string): number {
    return (this.q.attempts.get(eventId) as { n: number }).n;
  }
}
