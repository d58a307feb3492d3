/**
 * The numbers the Hecun report measures, from the event and transition tables: the share
 * settled by the warning alone, how long each stage took (median and p90), and counts per
 * type, camera, zone and day. Events are counted by when they were confirmed.
 */
import type { Db } from '../store/db.ts';
import { statsRows } from '../store/stats.ts';
import type { StatsMessage } from '../api/schema/stats.ts';
import { stamp } from '../events/evidence.ts';

export interface StatsWindow {
  since: number | null;
  until: number | null;
}

/** Linear interpolation between closest ranks (the common "type 7" quantile). */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (!sorted.length) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function durations(ms: number[]) {
  const s = ms
    .filter((x) => x >= 0)
    .map((x) => x / 1000)
    .sort((a, b) => a - b);
  const r = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return { n: s.length, median_s: r(quantile(s, 0.5)), p90_s: r(quantile(s, 0.9)) };
}

const bump = (m: Record<string, number>, k: string) => void (m[k] = (m[k] ?? 0) + 1);

export function computeStats(db: Db, o: { gatewayId: string; timeZone: string; now: number; window?: StatsWindow }): StatsMessage {
  const since = o.window?.since ?? null;
  const until = o.window?.until ?? o.now;
  const { events, transitions, dispatches } = statsRows(db, since ?? 0, until);

  // The first time each event reached each state.
  const first = new Map<string, Map<string, number>>();
  for (const t of transitions) {
    let m = first.get(t.event_id);
    if (!m) first.set(t.event_id, (m = new Map()));
    if (!m.has(t.to_state)) m.set(t.to_state, t.at);
  }
  const span = (from: string, to: string) => {
    const out: number[] = [];
    for (const m of first.values()) if (m.has(from) && m.has(to)) out.push(m.get(to)! - m.get(from)!);
    return out;
  };

  const byState: Record<string, number> = {},
    byType: Record<string, number> = {},
    byCamera: Record<string, number> = {};
  const byZone: Record<string, number> = {},
    byDay: Record<string, number> = {};
  let resolved = 0,
    escalated = 0,
    open = 0;
  for (const e of events) {
    bump(byState, e.state);
    bump(byType, e.type);
    bump(byCamera, e.camera_id);
    bump(byZone, `${e.camera_id}/${e.zone_id}`);
    bump(byDay, stamp(e.confirmed_at, o.timeZone).slice(0, 10));
    if (e.closed_at === null) open++;
    const m = first.get(e.id);
    if (m?.has('resolved_by_warning')) resolved++;
    else if (m?.has('escalated')) escalated++;
  }
  const decided = resolved + escalated;
  const count = (s: string) => dispatches.filter((d) => d.state === s).length;
  return {
    gateway: o.gatewayId,
    at: new Date(o.now).toISOString(),
    window: { since: since === null ? null : new Date(since).toISOString(), until: new Date(until).toISOString() },
    events: { total: events.length, open, by_state: byState },
    settled_by_warning: { resolved, decided, share: decided ? Math.round((resolved / decided) * 1000) / 1000 : null },
    durations: {
      confirm_to_warn: durations(span('confirmed', 'warned')),
      warn_to_resolved: durations(span('warned', 'resolved_by_warning')),
      dispatch_to_accept: durations(span('dispatched', 'acknowledged')),
      accept_to_closed: durations(span('acknowledged', 'closed')),
    },
    dispatches: {
      offers: dispatches.length,
      accepted: dispatches.filter((d) => d.accepted_at !== null).length,
      declined: count('declined'),
      timed_out: count('timed_out'),
      neighbour: dispatches.filter((d) => d.tier === 'neighbour').length,
    },
    by_type: byType,
    by_camera: byCamera,
    by_zone: byZone,
    by_day: byDay,
  };
}
