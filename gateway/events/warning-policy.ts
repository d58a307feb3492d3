/**
 * The warning stage as pure decisions: from the event, its rule, the policy and the time,
 * what happens next (play, wait until, escalate with a reason), what a played warning
 * leads to, and the recheck after the grace period. Nothing here plays, writes or waits;
 * events/service.ts does what these say, through events/lifecycle.ts.
 */
import type { EventRecord } from '../core/event.ts';
import type { Decision, Effect } from '../core/decision.ts';
import type { WarningOutcome } from '../alert/types.ts';
import type { WarningPolicy } from '../alert/policy.ts';
import type { ZoneRule } from '../rules/zone-rules.ts';
import type { Presence } from '../rules/engine.ts';
import { render } from '../alert/messages.ts';
import { quietRange } from '../alert/schedule.ts';

export type WarningDecision =
  | { kind: 'play'; text: string; speakers: string[]; clip?: string }
  | { kind: 'wait'; until: number; reason: string }
  | { kind: 'escalate'; reason: string; skipped: WarningOutcome[] };

export const zoneKey = (e: { camera: string; zone: string }) => `${e.camera}/${e.zone}`;

/** The first warning for a confirmed event. */
export function decideWarning(
  e: EventRecord,
  rule: ZoneRule | undefined,
  policy: WarningPolicy,
  now: number,
  speakers: readonly string[],
): WarningDecision {
  if (!speakers.length || !rule) return { kind: 'escalate', reason: 'no speaker at this camera', skipped: [] };
  const text = render(rule.messages?.text ?? rule.message, policy.variables(e.camera, rule.zoneName, e.type));
  const skip = (code: 'quiet_hours' | 'rate_limited', reason: string): WarningOutcome[] =>
    speakers.map((speaker) => ({ eventId: e.id, speaker, outcome: 'skipped', code, reason, text, durationMs: 0, at: now }));
  const quiet = quietRange(policy.quietHours(e.camera), now, policy.timeZone);
  if (quiet)
    return {
      kind: 'escalate',
      reason: `quiet hours (${quiet}): no audio, escalated instead`,
      skipped: skip('quiet_hours', `quiet hours ${quiet}`),
    };
  const zone = zoneKey(e);
  const allowedAt = policy.limiter.nextAllowed(zone, now);
  if (allowedAt !== null) {
    // Wait for the zone's window to open, unless that is too long after the confirmation.
    if (allowedAt - e.confirmedAt <= policy.rateMaxWaitMs) return { kind: 'wait', until: allowedAt, reason: `zone ${zone} rate limit` };
    return {
      kind: 'escalate',
      reason: `rate limited: zone ${zone} was warned recently, escalated instead`,
      skipped: skip('rate_limited', `zone ${zone} was warned recently`),
    };
  }
  return { kind: 'play', text, speakers: [...speakers], clip: policy.resolveClip(rule.messages?.clip) };
}

/** What a decision other than play does to the event. */
export function notPlayed(e: EventRecord, d: Exclude<WarningDecision, { kind: 'play' }>, now: number): Decision {
  if (d.kind === 'wait')
    return {
      event: e,
      effects: [{ kind: 'wait', dueAt: d.until, data: { rate_limited_until: d.until } }],
      log: {
        level: 'info',
        msg: 'warning waits for the zone rate limit',
        fields: { zone: zoneKey(e), wait_s: Math.round((d.until - now) / 1000) },
      },
    };
  const skipped: Effect[] = d.skipped.length ? [{ kind: 'warnings', outcomes: d.skipped }] : [];
  return { event: e, effects: [...skipped, { kind: 'move', to: 'escalated', reason: d.reason }] };
}

/**
 * A warning played (or failed) for this event, possibly one played for another event of
 * its zone: each event records the outcomes as its own and gets its own recheck.
 */
export function afterWarning(
  e: EventRecord,
  rule: ZoneRule,
  policy: WarningPolicy,
  played: readonly WarningOutcome[],
  text: string,
  at: number,
): Effect[] {
  const outcomes = played.map((o) => ({ ...o, eventId: e.id }));
  const ok = outcomes.filter((o) => o.outcome === 'played');
  if (!ok.length) {
    const why = outcomes
      .map((o) => {
        const r = o.reason ?? String(o.code);
        return r.startsWith(`${o.speaker}: `) ? r : `${o.speaker}: ${r}`;
      })
      .join('; ');
    return [
      { kind: 'warnings', outcomes },
      { kind: 'move', to: 'escalated', reason: `warning failed (${why})` },
    ];
  }
  return [
    { kind: 'warnings', outcomes },
    {
      kind: 'move',
      to: 'warned',
      dueAt: nextWarnedStep(policy, at, 0, rule.graceS),
      data: { warned_at: at, repeats: 0 },
      note: { speakers: ok.map((o) => o.speaker), text },
    },
  ];
}

/** In the grace period: the next repeat, or the recheck when no repeat is left. */
export function nextWarnedStep(policy: WarningPolicy, warnedAt: number, repeats: number, graceS: number): number {
  const recheck = warnedAt + graceS * 1000;
  if (repeats >= policy.repeatCount) return recheck;
  return Math.min(warnedAt + (repeats + 1) * policy.repeatIntervalMs, recheck);
}

/** A warned event whose due time came: a firmer repeat is left within the grace period. */
export function repeatDue(e: EventRecord, rule: ZoneRule | undefined, policy: WarningPolicy, now: number): boolean {
  const warnedAt = e.data.warned_at as number | undefined;
  if (!rule || warnedAt === undefined) return false;
  return ((e.data.repeats as number) ?? 0) < policy.repeatCount && now < warnedAt + rule.graceS * 1000;
}

/** The firmer repeat: played only while the matter is still there, outside quiet hours, with a speaker. */
export function decideRepeat(
  e: EventRecord,
  rule: ZoneRule,
  policy: WarningPolicy,
  now: number,
  presence: Presence,
  speakers: readonly string[],
): { play: { text: string; clip?: string; repeat: number } | null; quiet: boolean } {
  const repeat = ((e.data.repeats as number) ?? 0) + 1;
  const quiet = quietRange(policy.quietHours(e.camera), now, policy.timeZone) !== null;
  if (presence === 'absent' || quiet || !speakers.length) return { play: null, quiet };
  const text = render(rule.messages.firm, policy.variables(e.camera, rule.zoneName, e.type));
  return { play: { text, clip: policy.resolveClip(rule.messages.firmClip), repeat }, quiet };
}

/** After a repeat (played or not): gone already, or quiet now, means no more repeats; a failed repeat does not escalate. */
export function afterRepeat(e: EventRecord, rule: ZoneRule, policy: WarningPolicy, repeat: number, stop: boolean): Effect {
  const left = stop ? policy.repeatCount : repeat;
  return { kind: 'wait', dueAt: nextWarnedStep(policy, e.data.warned_at as number, left, rule.graceS), data: { repeats: left } };
}

/** After the grace period: gone is resolved by the warning, still there escalates; no picture waits a while. */
export function decideRecheck(e: EventRecord, presence: Presence, now: number): Effect[] {
  if (presence === 'unknown') {
    // No fresh frames (camera down): wait for it, but not for ever.
    const waited = (e.data.recheck_waits as number | undefined) ?? 0;
    if (waited < 12) return [{ kind: 'wait', dueAt: now + 10_000, data: { recheck_waits: waited + 1 } }];
    return [{ kind: 'move', to: 'escalated', reason: 'camera gave no picture for the recheck' }];
  }
  const out: Effect[] = [];
  if (e.state === 'warned') out.push({ kind: 'move', to: 'rechecked', dueAt: null, note: { present: presence === 'present' } });
  if (presence === 'absent') out.push({ kind: 'move', to: 'resolved_by_warning', reason: 'gone after the warning' });
  else out.push({ kind: 'move', to: 'escalated', reason: 'still there after the grace period' });
  return out;
}
