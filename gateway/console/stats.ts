/**
 * The figures `gateway stats` gives as totals, broken down for the console's charts:
 * events per day and type, the share settled by the warning alone per type and per zone,
 * and confirmation-to-close times. Counted exactly as gateway/stats/stats.ts counts
 * (by confirmation time; an event is settled by warning when it reached
 * resolved_by_warning, decided when it reached that or escalated), so the sums match.
 */
import type { Db } from '../store/db.ts';
import { stamp } from '../events/evidence.ts';
import { quantile } from '../stats/stats.ts';

interface Share {
  resolved: number;
  decided: number;
  share: number | null;
}

export function breakdown(db: Db, o: { since: number | null; until: number; timeZone: string }) {
  const rows = db
    .prepare(`SELECT e.id, e.type, e.camera_id, e.zone_id, e.confirmed_at, e.closed_at,
      max(t.to_state = 'resolved_by_warning') AS resolved, max(t.to_state = 'escalated') AS escalated
      FROM events e LEFT JOIN event_transitions t ON t.event_id = e.id
      WHERE e.confirmed_at >= ? AND e.confirmed_at < ? GROUP BY e.id ORDER BY e.seq`)
    .all(o.since ?? 0, o.until) as {
    type: string;
    camera_id: string;
    zone_id: string;
    confirmed_at: number;
    closed_at: number | null;
    resolved: number;
    escalated: number;
  }[];
  const byDayType: Record<string, Record<string, number>> = {};
  const byType: Record<string, Share> = {};
  const byZone: Record<string, Share> = {};
  const closeS: number[] = [];
  const add = (m: Record<string, Share>, k: string, resolved: boolean, decided: boolean) => {
    const x = (m[k] ??= { resolved: 0, decided: 0, share: null });
    if (resolved) x.resolved++;
    if (decided) x.decided++;
    x.share = x.decided ? Math.round((x.resolved / x.decided) * 1000) / 1000 : null;
  };
  for (const r of rows) {
    const day = stamp(r.confirmed_at, o.timeZone).slice(0, 10);
    const d = (byDayType[day] ??= {});
    d[r.type] = (d[r.type] ?? 0) + 1;
    const resolved = r.resolved === 1;
    const decided = resolved || r.escalated === 1;
    add(byType, r.type, resolved, decided);
    add(byZone, `${r.camera_id}/${r.zone_id}`, resolved, decided);
    if (r.closed_at !== null) closeS.push((r.closed_at - r.confirmed_at) / 1000);
  }
  closeS.sort((a, b) => a - b);
  const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return {
    by_day_type: byDayType,
    settled_by_type: byType,
    settled_by_zone: byZone,
    confirm_to_close: { n: closeS.length, median_s: round(quantile(closeS, 0.5)), p90_s: round(quantile(closeS, 0.9)), all_s: closeS },
  };
}
