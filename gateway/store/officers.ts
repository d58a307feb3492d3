/** The officer_state table: the last position and duty each officer's phone reported. */
import type { Db } from './db.ts';

export interface OfficerState {
  id: string;
  lat: number | null;
  lon: number | null;
  onDuty: boolean;
  busy: boolean;
  reportedAt: number;
}

interface Row {
  officer_id: string;
  lat: number | null;
  lon: number | null;
  on_duty: number;
  busy: number;
  reported_at: number;
}

export class OfficerStateRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      upsert:
        db.prepare(`INSERT INTO officer_state (officer_id, lat, lon, on_duty, busy, reported_at) VALUES (@id, @lat, @lon, @onDuty, @busy, @reportedAt)
        ON CONFLICT (officer_id) DO UPDATE SET lat = coalesce(@lat, lat), lon = coalesce(@lon, lon), on_duty = @onDuty, busy = @busy, reported_at = @reportedAt
        WHERE @reportedAt >= reported_at`),
      all: db.prepare('SELECT * FROM officer_state'),
    };
  }

  /** An older report arriving late never overwrites a newer one. */
  /** False when an older report arrived late and changed nothing. */
  report(s: OfficerState): boolean {
    return this.q.upsert.run({ ...s, onDuty: s.onDuty ? 1 : 0, busy: s.busy ? 1 : 0 }).changes > 0;
  }

  all(): OfficerState[] {
    return (this.q.all.all() as Row[]).map((r) => ({
      id: r.officer_id,
      lat: r.lat,
      lon: r.lon,
      onDuty: r.on_duty === 1,
      busy: r.busy === 1,
      reportedAt: r.reported_at,
    }));
  }
}
