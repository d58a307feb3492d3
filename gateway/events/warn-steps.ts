/**
 * The two steps of an event that play audio, the first warning and the firmer repeat:
 * they wait for the speakers, so they cannot be pure decisions. What they decide comes from
 * events/warning-policy.ts; the service hands in `apply`, the only way to change state.
 */
import type { EventsRepo } from '../store/events.ts';
import type { Logger } from '../log.ts';
import type { Clock } from '../clock.ts';
import type { Presence } from '../rules/engine.ts';
import type { ZoneRule } from '../rules/zone-rules.ts';
import type { Warner } from '../alert/warner.ts';
import type { WarningOutcome } from '../alert/types.ts';
import type { WarningPolicy } from '../alert/policy.ts';
import type { Decision } from '../core/decision.ts';
import type { EventRecord } from '../core/event.ts';
import type { EventLifecycle } from './lifecycle.ts';
import type { Timers } from './timers.ts';
import * as policy from './warning-policy.ts';

export interface WarnSteps {
  d: {
    repo: EventsRepo;
    log: Logger;
    clock: Clock;
    lifecycle: EventLifecycle;
    warner: Pick<Warner, 'warn'>;
    policy: WarningPolicy;
    cameras: Map<string, { speakers: string[] }>;
    presence: (e: EventRecord) => Presence;
  };
  timers: Timers;
  /** A zone's warning under way: others in the zone wait for it, and are covered by it. */
  playing: Map<string, Promise<void>>;
  /** First warnings started before their event was stored (warnEarly), by event id. */
  early: Map<string, Early>;
  apply: (decision: Decision) => EventRecord;
  rule: (e: EventRecord) => ZoneRule | undefined;
}

interface Early {
  zone: string;
  outcomes: Promise<WarningOutcome[]>;
  text: string;
  /** Lets the zone's waiters go: the event was covered, or will never be stored. */
  release: () => void;
}

/**
 * Starts a confirmed event's first warning at once, while its evidence picture (a
 * full-resolution still from the camera, seconds at worst) is still being written and
 * the row does not exist yet. Only a plain play starts early; a wait or an escalation is
 * decided as before, once the event is stored. warn() then records what this played.
 */
export function warnEarly(s: WarnSteps, draft: EventRecord): void {
  const { d } = s;
  const zone = policy.zoneKey(draft);
  if (s.playing.has(zone)) {
    // The zone's early warning under way covers this one too, even if this row is stored
    // after that one's (its evidence took longer): it shares that play, and holds nothing.
    const under = [...s.early.values()].find((x) => x.zone === zone);
    if (under) s.early.set(draft.id, { ...under, release: () => {} });
    return;
  }
  const speakers = d.cameras.get(draft.camera)?.speakers ?? [];
  const now = d.clock.now();
  const decision = policy.decideWarning(draft, s.rule(draft), d.policy, now, speakers);
  if (decision.kind !== 'play') return;
  d.policy.limiter.record(zone, now);
  d.log.debug({ event: draft.id, since_confirmed_ms: now - draft.confirmedAt }, 'first warning starts, evidence under way');
  const outcomes = d.warner.warn({ eventId: draft.id, text: decision.text, speakers: decision.speakers, file: decision.clip });
  let release = () => {};
  s.playing.set(zone, new Promise<void>((r) => (release = r)));
  s.early.set(draft.id, { zone, outcomes, text: decision.text, release: () => (s.playing.delete(zone), release()) });
}

/** The event will not be stored (it could not be recorded): its early warning stops holding the zone. */
export async function dropEarly(s: WarnSteps, id: string): Promise<void> {
  const early = s.early.get(id);
  if (!early) return;
  s.early.delete(id);
  await early.outcomes.catch(() => undefined);
  early.release();
}

export async function warn(s: WarnSteps, first: EventRecord): Promise<void> {
  const { d } = s;
  const zone = policy.zoneKey(first);
  const early = s.early.get(first.id);
  if (early) {
    // Its warning started before it was stored: record that play, not a second one.
    s.early.delete(first.id);
    try {
      cover(s, zone, first, await early.outcomes, early.text);
    } finally {
      early.release();
    }
    return;
  }
  // Covered by the warning playing now, if it was waiting already. No await without one:
  // the check and the claim of the zone below must happen in the same turn.
  for (let p = s.playing.get(zone); p; p = s.playing.get(zone)) await p;
  const e = d.repo.get(first.id);
  if (e?.state !== 'confirmed' || !s.timers.due(e)) return e ? s.timers.schedule(e) : undefined;
  const speakers = d.cameras.get(e.camera)?.speakers ?? [];
  const now = d.clock.now();
  const decision = policy.decideWarning(e, s.rule(e), d.policy, now, speakers);
  if (decision.kind !== 'play') return void s.apply(policy.notPlayed(e, decision, now));
  d.policy.limiter.record(zone, now);
  d.log.debug({ event: e.id, since_confirmed_ms: now - e.confirmedAt }, 'first warning starts');
  const req = { eventId: e.id, text: decision.text, speakers: decision.speakers, file: decision.clip };
  // Waiters wake only once every event the play covers is warned (or escalated).
  const done = d.warner
    .warn(req)
    .then((outcomes) => cover(s, zone, e, outcomes, decision.text))
    .finally(() => s.playing.delete(zone));
  s.playing.set(
    zone,
    done.catch(() => undefined),
  );
  await done;
}

/** Every event of the zone waiting to be warned heard it too (cancelled ones are not waiting any more). */
function cover(s: WarnSteps, zone: string, first: EventRecord, outcomes: WarningOutcome[], text: string): void {
  const at = s.d.clock.now();
  for (const x of s.d.repo.open()) {
    const rule = s.rule(x);
    if (x.state !== 'confirmed' || policy.zoneKey(x) !== zone || !rule) continue;
    if (x.id !== first.id) s.d.log.info({ event: x.id, with: first.id, zone }, 'covered by the warning of another event in its zone');
    s.apply({ event: x, effects: policy.afterWarning(x, rule, s.d.policy, outcomes, text, at) });
  }
}

/** The firmer repeat, only while the matter is still there; a failed repeat does not escalate. */
export async function repeat(s: WarnSteps, e: EventRecord): Promise<void> {
  const { d } = s;
  const rule = s.rule(e)!;
  const speakers = d.cameras.get(e.camera)?.speakers ?? [];
  const r = policy.decideRepeat(e, rule, d.policy, d.clock.now(), d.presence(e), speakers);
  if (r.play) {
    const { text, clip, repeat } = r.play;
    d.lifecycle.recordWarnings(await d.warner.warn({ eventId: e.id, text, speakers, file: clip, repeat }));
  }
  const current = d.repo.get(e.id);
  if (current?.state !== 'warned') return;
  const n = ((e.data.repeats as number) ?? 0) + 1;
  const stop = r.quiet || d.presence(e) === 'absent';
  s.apply({ event: current, effects: [policy.afterRepeat(current, rule, d.policy, n, stop)] });
}
