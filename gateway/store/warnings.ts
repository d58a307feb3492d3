/** The warnings table: every attempt to warn, per event and speaker (skips included). */
import type { Db } from './db.ts';
import type { WarningOutcome } from '../alert/types.ts';

export class WarningsRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      insert: db.prepare(
        'INSERT INTO warnings (event_id, speaker_id, at, outcome, reason, duration_ms, text, code, repeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      firstSince:
        db.prepare(`SELECT e.camera_id || '/' || e.zone_id AS zone, MIN(w.at) AS at FROM warnings w JOIN events e ON e.id = w.event_id
      WHERE w.repeat = 0 AND w.outcome != 'skipped' AND w.at > ? GROUP BY w.event_id ORDER BY at`),
    };
  }

  /** Call inside the transaction that also writes the outbox messages. */
  insert(o: WarningOutcome): void {
    this.q.insert.run(o.eventId, o.speaker, o.at, o.outcome, o.reason, o.durationMs, o.text, o.code, o.repeat ?? 0);
  }

  /**
   * When each zone ("camera/zone") was last given a first warning, since `since`, oldest
   * first: what the per-zone rate limit counted before a restart. Skipped attempts (quiet
   * hours, the limit itself) never counted; repeats are part of the same warning.
   */
  firstSince(since: number): { zone: string; at: number }[] {
    return this.q.firstSince.all(since) as { zone: string; at: number }[];
  }
}
