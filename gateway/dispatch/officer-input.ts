/**
 * What officers' phones send: position and duty on officers/{id}/state. Bad input is
 * logged with the topic and the reason and dropped; it never changes state.
 */
import type { Context } from '../context.ts';
import type { Roster } from './roster.ts';
import { readInbound } from '../api/inbound.ts';
import { OfficerState } from '../api/schema/dispatch.ts';

/** The phone's report, checked against its schema (api/schema/dispatch.ts), or why it is refused. */
export function parseOfficerState(
  payload: Buffer,
  now: number,
): { lat: number | null; lon: number | null; onDuty: boolean; busy: boolean; reportedAt: number } | string {
  const m = readInbound<OfficerState>(OfficerState, payload, { what: 'message' });
  if (!m.ok) return m.code === 'bad_json' ? 'not JSON' : m.message;
  const { lat = null, lon = null, at } = m.msg;
  if ((lat === null) !== (lon === null)) return 'lat and lon must come together';
  const t = typeof at === 'string' ? Date.parse(at) : (at ?? now);
  return { lat, lon, onDuty: m.msg.on_duty !== false, busy: m.msg.busy === true, reportedAt: Math.min(t, now) };
}

export function subscribeOfficers(ctx: Context, roster: Roster, onReport?: (officer: string) => void): void {
  ctx.uplink.on(ctx.topics.filter('officerState'), (topic, payload) => {
    const id = ctx.topics.officerOf(topic);
    if (!id || !roster.has(id)) return ctx.log.warn({ topic }, 'state from an officer not in the roster; ignored');
    const s = parseOfficerState(payload, ctx.clock.now());
    if (typeof s === 'string') return ctx.log.warn({ topic, err: s }, 'bad officer state; ignored');
    roster.report({ id, ...s });
    onReport?.(id);
    ctx.log.debug({ officer: id, lat: s.lat, lon: s.lon, on_duty: s.onDuty, busy: s.busy }, 'officer state');
  });
}
