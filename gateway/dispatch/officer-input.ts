/**
 * What officers' phones send: position and duty on officers/{id}/state. Bad input is
 * logged with the topic and dropped; it never changes state.
 */
import type { Context } from '../context.ts';
import type { Roster } from './roster.ts';

export function parseOfficerState(
  payload: Buffer,
  now: number,
): { lat: number | null; lon: number | null; onDuty: boolean; busy: boolean; reportedAt: number } | string {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (!m || typeof m !== 'object') return 'not an object';
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const lat = num(m.lat),
    lon = num(m.lon);
  if (
    (m.lat !== undefined && (lat === null || lat < -90 || lat > 90)) ||
    (m.lon !== undefined && (lon === null || lon < -180 || lon > 180))
  )
    return 'lat/lon out of range';
  if ((lat === null) !== (lon === null)) return 'lat and lon must come together';
  const at = typeof m.at === 'string' ? Date.parse(m.at) : num(m.at);
  if (m.at !== undefined && (at === null || Number.isNaN(at))) return 'at is not a time';
  return { lat, lon, onDuty: m.on_duty !== false, busy: m.busy === true, reportedAt: Math.min(at ?? now, now) };
}

export function subscribeOfficers(ctx: Context, roster: Roster, onReport?: (officer: string) => void): void {
  ctx.uplink.on(`${ctx.topics.officersRoot}/+/state`, (topic, payload) => {
    const id = ctx.topics.officerOf(topic);
    if (!id || !roster.has(id)) return ctx.log.warn({ topic }, 'state from an officer not in the roster; ignored');
    const s = parseOfficerState(payload, ctx.clock.now());
    if (typeof s === 'string') return ctx.log.warn({ topic, err: s }, 'bad officer state; ignored');
    roster.report({ id, ...s });
    onReport?.(id);
    ctx.log.debug({ officer: id, lat: s.lat, lon: s.lon, on_duty: s.onDuty, busy: s.busy }, 'officer state');
  });
}
