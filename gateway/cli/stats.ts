/**
 * `gateway stats --config FILE [--since T] [--until T] [--json]`: the report's numbers from
 * this box's own event history. It reads the database read-only, so it works beside a
 * running gateway (WAL) and when the broker is down; the platform gets the same figures
 * from the `stats` command or the retained `stats` topic.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedSettings } from '../settings/load.ts';
import { computeStats } from '../stats/stats.ts';
import type { StatsMessage } from '../api/schema/stats.ts';

type Out = (line: string) => void;

export interface StatsOptions {
  since?: string;
  until?: string;
  json?: boolean;
}

/** An ISO time or a date (taken at midnight UTC); null when absent. Throws with the option's name. */
function parseTime(name: string, v: string | undefined): number | null {
  if (v === undefined) return null;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`--${name} "${v}" is not a time (use e.g. 2026-11-26 or 2026-11-26T08:00:00+08:00)`);
  return t;
}

const secs = (d: { n: number; median_s: number | null; p90_s: number | null }) =>
  d.n ? `median ${d.median_s} s, p90 ${d.p90_s} s (${d.n})` : '-';

const counts = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || '-';

export function formatStats(r: StatsMessage): string[] {
  const share = r.settled_by_warning.share;
  return [
    `gateway ${r.gateway}, events confirmed ${r.window.since ?? 'ever'} .. ${r.window.until}`,
    `  events             ${r.events.total} (${r.events.open} open): ${counts(r.events.by_state)}`,
    `  settled by warning ${share === null ? '-' : `${(share * 100).toFixed(1)} %`} (${r.settled_by_warning.resolved} of ${r.settled_by_warning.decided} resolved by the warning alone)`,
    `  confirm → warn     ${secs(r.durations.confirm_to_warn)}`,
    `  warn → resolved    ${secs(r.durations.warn_to_resolved)}`,
    `  dispatch → accept  ${secs(r.durations.dispatch_to_accept)}`,
    `  accept → closed    ${secs(r.durations.accept_to_closed)}`,
    `  dispatch offers    ${r.dispatches.offers}: ${r.dispatches.accepted} accepted, ${r.dispatches.declined} declined, ${r.dispatches.timed_out} timed out, ${r.dispatches.neighbour} to neighbouring towns`,
    `  by type            ${counts(r.by_type)}`,
    `  by camera          ${counts(r.by_camera)}`,
    `  by day             ${counts(r.by_day)}`,
  ];
}

export function statsCommand(config: LoadedSettings, o: StatsOptions, out: Out, now = Date.now()): number {
  const s = config.settings;
  let since: number | null, until: number | null;
  try {
    since = parseTime('since', o.since);
    until = parseTime('until', o.until);
  } catch (e) {
    out(`gateway stats: ${(e as Error).message}`);
    return 2;
  }
  const file = join(config.resolvePath(s.gateway.data_dir), 'gateway.db');
  if (!existsSync(file)) {
    out(`gateway stats: no database at ${file} (gateway.data_dir): has this gateway run yet?`);
    return 1;
  }
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const r = computeStats(db, { gatewayId: s.gateway.id, timeZone: s.gateway.timezone, now, window: { since, until } });
    for (const line of o.json ? [JSON.stringify(r, null, 2)] : formatStats(r)) out(line);
    return 0;
  } catch (e) {
    out(`gateway stats: ${file}: ${(e as Error).message}`);
    return 1;
  } finally {
    db.close();
  }
}
