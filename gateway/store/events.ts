/** The events and event_transitions tables. */
import type { Db } from './db.ts';
import { WarningsRepo } from './warnings.ts';
import type { EventRecord, EventState } from '../core/event.ts';

interface Row {
  seq: number;
  id: string;
  type: string;
  camera_id: string;
  zone_id: string;
  state: string;
  track_ids: string;
  classes: string;
  box: string;
  first_seen_at: number;
  confirmed_at: number;
  due_at: number | null;
  evidence_path: string | null;
  evidence_sha256: string | null;
  officer_id: string | null;
  reason: string | null;
  data: string;
  updated_at: number;
  closed_at: number | null;
}

function fromRow(r: Row): EventRecord {
  return {
    seq: r.seq,
    id: r.id,
    type: r.type as EventRecord['type'],
    camera: r.camera_id,
    zone: r.zone_id,
    state: r.state as EventState,
    trackIds: JSON.parse(r.track_ids),
    classes: JSON.parse(r.classes),
    box: JSON.parse(r.box),
    firstSeenAt: r.first_seen_at,
    confirmedAt: r.confirmed_at,
    dueAt: r.due_at,
    evidencePath: r.evidence_path,
    evidenceSha256: r.evidence_sha256,
    officerId: r.officer_id,
    reason: r.reason,
    data: JSON.parse(r.data),
    updatedAt: r.updated_at,
    closedAt: r.closed_at,
  };
}

/** States whose next step asks the camera about the matter (a confirmed event is warned, then rechecked). */
const PRESENCE_STATES = new Set<EventState>(['confirmed', 'warned', 'rechecked']);

export class EventsRepo {
  private readonly db: Db;
  /** Each camera's earliest step that asks whether its matter is there, as last read. */
  private presence: { at: number; due: Map<string, number> } | null = null;
  private readonly q;

  constructor(db: Db) {
    this.db = db;
    this.q = {
      insert:
        db.prepare(`INSERT INTO events (id, type, camera_id, zone_id, state, track_ids, classes, box, first_seen_at, confirmed_at, due_at,
        evidence_path, evidence_sha256, data, updated_at) VALUES (@id, @type, @camera, @zone, @state, @trackIds, @classes, @box, @firstSeenAt,
        @confirmedAt, @dueAt, @evidencePath, @evidenceSha256, @data, @updatedAt)`),
      update: db.prepare(`UPDATE events SET state = @state, due_at = @dueAt, officer_id = @officerId, reason = @reason, data = @data,
        updated_at = @updatedAt, closed_at = @closedAt WHERE id = @id`),
      transition: db.prepare('INSERT INTO event_transitions (event_id, from_state, to_state, at, data) VALUES (?, ?, ?, ?, ?)'),
      get: db.prepare('SELECT * FROM events WHERE id = ?'),
      open: db.prepare('SELECT * FROM events WHERE closed_at IS NULL ORDER BY seq'),
      recentAtSpot: db.prepare(
        'SELECT * FROM events WHERE camera_id = ? AND zone_id = ? AND type = ? AND (closed_at IS NULL OR closed_at >= ?) ORDER BY seq DESC LIMIT 20',
      ),
      transitions: db.prepare('SELECT from_state, to_state, at, data FROM event_transitions WHERE event_id = ? ORDER BY id'),
      list: db.prepare('SELECT * FROM events ORDER BY seq DESC LIMIT ?'),
      afterSeq: db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
    };
  }

  /** Inserts and returns the record with its sequence number. Call inside a transaction with the outbox write. */
  insert(e: Omit<EventRecord, 'seq'>): EventRecord {
    const info = this.q.insert.run({
      ...e,
      trackIds: JSON.stringify(e.trackIds),
      classes: JSON.stringify(e.classes),
      box: JSON.stringify(e.box),
      data: JSON.stringify(e.data),
    });
    this.q.transition.run(e.id, null, e.state, e.confirmedAt, '{}');
    return { ...e, seq: Number(info.lastInsertRowid) };
  }

  update(e: EventRecord, from: EventState | null, at: number, note: Record<string, unknown> = {}): void {
    this.q.update.run({
      id: e.id,
      state: e.state,
      dueAt: e.dueAt,
      officerId: e.officerId,
      reason: e.reason,
      data: JSON.stringify(e.data),
      updatedAt: e.updatedAt,
      closedAt: e.closedAt,
    });
    if (from !== e.state) this.q.transition.run(e.id, from, e.state, at, JSON.stringify(note));
  }

  get(id: string): EventRecord | null {
    const r = this.q.get.get(id) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  /**
   * Does an open event of this camera take a step that asks whether its matter is still
   * there (warning, repeat, recheck) before `until`?
   */
  presenceDue(camera: string, until: number): boolean {
    // Asked for every still frame of every camera: read the open events at most every
    // 250 ms (the still gate looks again at the next frame, seconds ahead of any due step).
    const now = performance.now();
    if (!this.presence || now - this.presence.at > 250) {
      const due = new Map<string, number>();
      for (const e of this.open())
        if (PRESENCE_STATES.has(e.state)) due.set(e.camera, Math.min(due.get(e.camera) ?? Infinity, e.dueAt ?? -Infinity));
      this.presence = { at: now, due };
    }
    return (this.presence.due.get(camera) ?? Infinity) <= until;
  }

  open(): EventRecord[] {
    return (this.q.open.all() as Row[]).map(fromRow);
  }

  /** Open events at a spot, and those closed since `closedSince` (for cooldown). */
  atSpot(camera: string, zone: string, type: string, closedSince: number): EventRecord[] {
    return (this.q.recentAtSpot.all(camera, zone, type, closedSince) as Row[]).map(fromRow);
  }

  transitions(id: string): { from: EventState | null; to: EventState; at: number; data: Record<string, unknown> }[] {
    return (this.q.transitions.all(id) as { from_state: string | null; to_state: string; at: number; data: string }[]).map((t) => ({
      from: t.from_state as EventState | null,
      to: t.to_state as EventState,
      at: t.at,
      data: JSON.parse(t.data),
    }));
  }

  recent(limit = 50): EventRecord[] {
    return (this.q.list.all(limit) as Row[]).map(fromRow);
  }

  /** Events with a sequence number above `seq`, in order (the platform filling a gap). */
  afterSeq(seq: number, limit: number): EventRecord[] {
    return (this.q.afterSeq.all(seq, limit) as Row[]).map(fromRow);
  }

  /** The rate limit's memory (kept here for callers that have only this repository). */
  firstWarningsSince(since: number): { zone: string; at: number }[] {
    return new WarningsRepo(this.db).firstSince(since);
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
