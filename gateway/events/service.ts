/**
 * The event lifecycle: confirmed → warned → rechecked → resolved_by_warning | escalated
 * → dispatched (from there on gateway/dispatch/dispatcher.ts). Every transition is one
 * SQLite transaction that also writes the MQTT message to the outbox, so state and what
 * the platform hears never disagree, and a restart resumes each event where it stood
 * (timers are due_at columns, not memory).
 */
import { ulid } from 'ulid';
import type { Logger } from '../log.ts';
import type { Clock } from '../clock.ts';
import type { Bus } from '../bus.ts';
import type { Uplink } from '../uplink/uplink.ts';
import { PRIORITY } from '../store/outbox.ts';
import type { EventsRepo } from '../store/events.ts';
import type { Db } from '../store/db.ts';
import type { Topics } from '../api/topics.ts';
import { eventPayload, transitionPayload, warningPayload, type CameraInfo } from '../api/payloads.ts';
import type { TransitionNote } from '../api/schema/events.ts';
import type { Verdict, Presence } from '../rules/engine.ts';
import type { ZoneRule } from '../rules/zone-rules.ts';
import type { Warner } from '../alert/warner.ts';
import type { WarningOutcome } from '../alert/types.ts';
import type { Roster } from '../dispatch/roster.ts';
import { Dispatcher, DEFAULT_DISPATCH, type Lifecycle } from '../dispatch/dispatcher.ts';
import { writeEvidence } from './evidence.ts';
import { TERMINAL, type EventRecord, type EventState } from './types.ts';
import { iou, type Box } from '../zones/geometry.ts';
import { CATALOGUE } from '../rules/catalogue.ts';
import type { WarningPolicy } from '../alert/policy.ts';
import { render } from '../alert/messages.ts';
import { quietRange } from '../alert/schedule.ts';

export interface EventServiceDeps {
  db: Db;
  repo: EventsRepo;
  uplink: Uplink;
  topics: Topics;
  gatewayId: string;
  log: Logger;
  clock: Clock;
  bus: Bus;
  warner: Warner;
  roster: Roster;
  evidenceDir: string;
  /** Free space below which no evidence picture is written (gateway.evidence_min_free_mb). */
  evidenceMinFreeBytes?: number;
  timeZone?: string;
  cameras: Map<string, CameraInfo & { speakers: string[] }>;
  rules: Map<string, ZoneRule>; // key: camera/zone/type
  presence: (e: EventRecord) => Presence;
  dispatch: { positionMaxAgeS: number; deadlineS: number };
  evidenceUrl?: (e: EventRecord) => string | null;
  /** Quiet hours, rate limit, repeats; without it every warning sounds once. */
  policy?: WarningPolicy;
  /** Runs escalated events on to officers; by default one with the default dispatch settings. */
  dispatcher?: Dispatcher;
}

export interface FrameCopy {
  rgb: Buffer;
  width: number;
  height: number;
  /** Fetches a full-resolution still of the scene for the evidence, if the camera has one. */
  still?: () => Promise<Buffer | null>;
}

export const ruleKey = (camera: string, zone: string, type: string) => `${camera}/${zone}/${type}`;

export class EventService implements Lifecycle {
  private readonly d: EventServiceDeps;
  readonly dispatcher: Dispatcher;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Steps under way: an event advances one step at a time; stop() waits for them. */
  private readonly busy = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(d: EventServiceDeps) {
    this.d = d;
    this.dispatcher =
      d.dispatcher ??
      new Dispatcher({
        ...d,
        zoneName: (e) => d.rules.get(ruleKey(e.camera, e.zone, e.type))?.zoneName ?? e.zone,
        config: { ...DEFAULT_DISPATCH, ...d.dispatch },
      });
    this.dispatcher.attach(this);
  }

  /** True when this spot already has an open event, or one that closed within the cooldown. */
  isSuppressed(rule: ZoneRule, box: Box, ts: number): boolean {
    const recent = this.d.repo.atSpot(rule.camera, rule.zone, rule.type, ts - rule.cooldownS * 1000);
    return recent.some((e) => iou(e.box, box) > 0.3 || rule.minCount > 1);
  }

  /** A verdict becomes an event: evidence first, then the row and its message together. */
  confirm(v: Verdict, frame: FrameCopy): Promise<EventRecord> {
    const p = this.record(v, frame);
    const key = `confirm:${v.rule.camera}:${v.at}:${v.tracks[0]?.id}`;
    this.busy.set(
      key,
      p.then(
        () => undefined,
        () => undefined,
      ),
    );
    return p.finally(() => this.busy.delete(key));
  }

  private async record(v: Verdict, frame: FrameCopy): Promise<EventRecord> {
    const { repo, clock, topics } = this.d;
    const id = ulid(v.at);
    const r = v.rule;
    const still = frame.still ? await frame.still().catch(() => null) : null;
    const ev = await writeEvidence(this.d.evidenceDir, {
      eventId: id,
      rgb: frame.rgb,
      width: frame.width,
      height: frame.height,
      polygon: r.polygon,
      still,
      boxes: v.tracks.map((t) => ({ box: t.box, label: `${t.label} #${t.id}` })),
      title: `${r.type} ${CATALOGUE[r.type].zh} ${r.camera}/${r.zone}`,
      at: v.at,
      timeZone: this.d.timeZone,
      minFreeBytes: this.d.evidenceMinFreeBytes,
    }).catch((e: Error) => {
      // A full disk must not lose the event: record it without a picture and say why.
      this.d.log.error({ camera: r.camera, err: e.message }, 'evidence could not be written; recording the event without it');
      return null;
    });
    const now = clock.now();
    const event = repo.tx(() => {
      const e = repo.insert({
        id,
        type: r.type,
        camera: r.camera,
        zone: r.zone,
        state: 'confirmed',
        trackIds: v.tracks.map((t) => t.id),
        classes: v.classes,
        box: v.box,
        firstSeenAt: v.since,
        confirmedAt: v.at,
        dueAt: null,
        evidencePath: ev?.path ?? null,
        evidenceSha256: ev?.sha256 ?? null,
        officerId: null,
        reason: null,
        data: ev ? {} : { evidence_error: 'not written' },
        updatedAt: now,
        closedAt: null,
      });
      const cam = this.camera(e.camera);
      this.publish(
        topics.events(),
        eventPayload(this.d.gatewayId, e, cam, r.zoneName, this.d.evidenceUrl?.(e) ?? null),
        PRIORITY.event,
        e.id,
      );
      this.publish(topics.eventState(e.id), transitionPayload(this.d.gatewayId, e, null, v.at, {}), PRIORITY.event, e.id);
      return e;
    });
    this.d.uplink.flush();
    this.d.log.info(
      { event: id, type: r.type, camera: r.camera, zone: r.zone, dwell_s: Math.round((v.at - v.since) / 1000), classes: v.classes },
      'event confirmed',
    );
    this.d.bus.emit('event.transition', { event, from: null, to: 'confirmed', at: v.at });
    void this.step(event.id);
    return event;
  }

  /** Re-arms every open event after a start: the lifecycle continues where it stopped. */
  resume(): number {
    const open = this.d.repo.open();
    for (const e of open) this.schedule(e);
    if (open.length) this.d.log.info({ open: open.length }, 'resumed open events');
    return open.length;
  }

  schedule(e: EventRecord): void {
    const existing = this.timers.get(e.id);
    if (existing) clearTimeout(existing);
    this.timers.delete(e.id);
    if (this.stopped || TERMINAL.has(e.state)) return;
    const delay = e.dueAt === null ? 0 : Math.max(0, e.dueAt - this.d.clock.now());
    const t = setTimeout(
      () => {
        this.timers.delete(e.id);
        void this.step(e.id);
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    this.timers.set(e.id, t);
  }

  /** Advances one event by what its state and the clock say is next. */
  private step(id: string): Promise<void> {
    if (this.busy.has(id) || this.stopped) return Promise.resolve();
    const p = this.advance(id);
    this.busy.set(id, p);
    return p.finally(() => this.busy.delete(id));
  }

  private async advance(id: string): Promise<void> {
    try {
      const e = this.d.repo.get(id);
      if (!e || TERMINAL.has(e.state)) return;
      if (e.dueAt !== null && e.dueAt > this.d.clock.now()) return this.schedule(e);
      switch (e.state) {
        case 'confirmed':
          return await this.warn(e);
        case 'warned':
          if (this.repeatDue(e)) return await this.repeat(e);
          return this.recheck(e);
        case 'rechecked':
          return this.recheck(e);
        case 'escalated':
        case 'unassigned':
          return this.dispatcher.assign(e);
        case 'dispatched':
          return this.dispatcher.expire(e); // the offer's answer time passed
        case 'acknowledged':
        case 'arrived':
          return this.dispatcher.overdue(e);
        default:
          return;
      }
    } catch (err) {
      if (this.stopped) return; // the store may be closing under us; the next start resumes
      this.d.log.error({ event: id, err: (err as Error).message }, 'event step failed; retrying in 10 s');
      const e = this.d.repo.get(id);
      if (e) this.schedule({ ...e, dueAt: this.d.clock.now() + 10_000 });
    }
  }

  private async warn(e: EventRecord): Promise<void> {
    const cam = this.d.cameras.get(e.camera);
    const rule = this.d.rules.get(ruleKey(e.camera, e.zone, e.type));
    const speakers = cam?.speakers ?? [];
    if (!speakers.length || !rule) {
      this.transition(e, 'escalated', { reason: 'no speaker at this camera' });
      return;
    }
    const policy = this.d.policy;
    const now = this.d.clock.now();
    const vars = policy?.variables(e.camera, rule.zoneName, e.type) ?? {
      place: cam?.place ?? cam?.name ?? '',
      camera: cam?.name ?? e.camera,
      zone: rule.zoneName,
      type_zh: CATALOGUE[e.type].zh,
    };
    const text = render(rule.messages?.text ?? rule.message, vars);
    const skip = (code: 'quiet_hours' | 'rate_limited', reason: string) =>
      this.recordWarnings(
        speakers.map((speaker) => ({ eventId: e.id, speaker, outcome: 'skipped', code, reason, text, durationMs: 0, at: now })),
      );
    const quiet = policy ? quietRange(policy.quietHours(e.camera), now, policy.timeZone) : null;
    if (quiet) {
      skip('quiet_hours', `quiet hours ${quiet}`);
      this.transition(e, 'escalated', { reason: `quiet hours (${quiet}): no audio, escalated instead` });
      return;
    }
    const zoneKey = `${e.camera}/${e.zone}`;
    const allowedAt = policy?.limiter.nextAllowed(zoneKey, now) ?? null;
    if (policy && allowedAt !== null) {
      if (allowedAt - e.confirmedAt <= policy.rateMaxWaitMs) {
        // Wait for the zone's window to open; the event stays confirmed meanwhile.
        e.dueAt = allowedAt;
        e.data = { ...e.data, rate_limited_until: allowedAt };
        this.d.repo.update(e, e.state, now);
        this.d.log.info(
          { event: e.id, zone: zoneKey, wait_s: Math.round((allowedAt - now) / 1000) },
          'warning waits for the zone rate limit',
        );
        return this.schedule(e);
      }
      skip('rate_limited', `zone ${zoneKey} was warned recently`);
      this.transition(e, 'escalated', { reason: `rate limited: zone ${zoneKey} was warned recently, escalated instead` });
      return;
    }
    policy?.limiter.record(zoneKey, now);
    const outcomes = await this.d.warner.warn({ eventId: e.id, text, speakers, file: policy?.resolveClip(rule.messages?.clip) });
    this.recordWarnings(outcomes);
    const played = outcomes.filter((o) => o.outcome === 'played');
    const current = this.d.repo.get(e.id);
    if (current?.state !== 'confirmed') return; // cancelled meanwhile
    if (!played.length) {
      const why = outcomes
        .map((o) => {
          const r = o.reason ?? String(o.code);
          return r.startsWith(`${o.speaker}: `) ? r : `${o.speaker}: ${r}`;
        })
        .join('; ');
      this.transition(current, 'escalated', { reason: `warning failed (${why})` });
      return;
    }
    const warnedAt = this.d.clock.now();
    current.data = { ...current.data, warned_at: warnedAt, repeats: 0 };
    this.transition(
      current,
      'warned',
      { dueAt: this.nextWarnedStep(warnedAt, 0, rule.graceS) },
      { speakers: played.map((o) => o.speaker), text },
    );
  }

  /** In the grace period: the next repeat, or the recheck when no repeat is left. */
  private nextWarnedStep(warnedAt: number, repeats: number, graceS: number): number {
    const recheck = warnedAt + graceS * 1000;
    const p = this.d.policy;
    if (!p || repeats >= p.repeatCount) return recheck;
    const next = warnedAt + (repeats + 1) * p.repeatIntervalMs;
    return Math.min(next, recheck);
  }

  private repeatDue(e: EventRecord): boolean {
    const p = this.d.policy;
    const rule = this.d.rules.get(ruleKey(e.camera, e.zone, e.type));
    const warnedAt = e.data.warned_at as number | undefined;
    if (!p || !rule || warnedAt === undefined) return false;
    return ((e.data.repeats as number) ?? 0) < p.repeatCount && this.d.clock.now() < warnedAt + rule.graceS * 1000;
  }

  /** The firmer repeat, only while the matter is still there; a failed repeat does not escalate. */
  private async repeat(e: EventRecord): Promise<void> {
    const rule = this.d.rules.get(ruleKey(e.camera, e.zone, e.type))!;
    const warnedAt = e.data.warned_at as number;
    const repeats = ((e.data.repeats as number) ?? 0) + 1;
    const cam = this.d.cameras.get(e.camera);
    const p = this.d.policy!;
    const now = this.d.clock.now();
    const quiet = quietRange(p.quietHours(e.camera), now, p.timeZone);
    if (this.d.presence(e) !== 'absent' && !quiet && cam?.speakers.length) {
      const text = render(rule.messages.firm, p.variables(e.camera, rule.zoneName, e.type));
      const outcomes = await this.d.warner.warn({
        eventId: e.id,
        text,
        speakers: cam.speakers,
        file: p.resolveClip(rule.messages.firmClip),
        repeat: repeats,
      });
      this.recordWarnings(outcomes);
    }
    const current = this.d.repo.get(e.id);
    if (current?.state !== 'warned') return;
    // Gone already, or quiet now: no more repeats; the recheck comes at its time.
    const left = quiet || this.d.presence(e) === 'absent' ? p.repeatCount : repeats;
    current.data = { ...current.data, repeats: left };
    current.dueAt = this.nextWarnedStep(warnedAt, left, rule.graceS);
    this.d.repo.update(current, current.state, this.d.clock.now());
    this.schedule(current);
  }

  recordWarnings(outcomes: WarningOutcome[]): void {
    const ins = this.d.db.prepare(
      'INSERT INTO warnings (event_id, speaker_id, at, outcome, reason, duration_ms, text, code, repeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.d.repo.tx(() => {
      for (const o of outcomes) {
        ins.run(o.eventId, o.speaker, o.at, o.outcome, o.reason, o.durationMs, o.text, o.code, o.repeat ?? 0);
        this.publish(this.d.topics.warnings(), warningPayload(this.d.gatewayId, o), PRIORITY.event, o.eventId);
      }
    });
    this.d.uplink.flush();
    for (const o of outcomes) {
      this.d.bus.emit('warning.outcome', o);
      const level = o.outcome === 'played' ? 'info' : 'warn';
      this.d.log[level](
        { event: o.eventId, speaker: o.speaker, outcome: o.outcome, reason: o.reason, duration_s: o.durationMs / 1000 },
        `warning ${o.outcome}`,
      );
    }
  }

  private recheck(e: EventRecord): void {
    const p = this.d.presence(e);
    const now = this.d.clock.now();
    if (p === 'unknown') {
      // No fresh frames (camera down): wait for it, but not for ever.
      const waited = (e.data.recheck_waits as number | undefined) ?? 0;
      if (waited < 12) {
        e.data = { ...e.data, recheck_waits: waited + 1 };
        e.dueAt = now + 10_000;
        this.d.repo.update(e, e.state, now);
        return this.schedule(e);
      }
      this.transition(e, 'escalated', { reason: 'camera gave no picture for the recheck' });
      return;
    }
    if (e.state === 'warned') e = this.transition(e, 'rechecked', { dueAt: null }, { present: p === 'present' }, false);
    if (p === 'absent') this.transition(e, 'resolved_by_warning', { reason: 'gone after the warning' });
    else this.transition(e, 'escalated', { reason: 'still there after the grace period' });
  }

  /** Moves an event to `to`, in one transaction with its message; schedules what comes next. */
  transition(
    e: EventRecord,
    to: EventState,
    patch: Partial<Pick<EventRecord, 'dueAt' | 'reason' | 'officerId'>> = {},
    note: TransitionNote = {},
    proceed = true,
  ): EventRecord {
    const now = this.d.clock.now();
    const from = e.state;
    const next: EventRecord = {
      ...e,
      ...patch,
      state: to,
      updatedAt: now,
      dueAt: patch.dueAt !== undefined ? patch.dueAt : null,
      closedAt: TERMINAL.has(to) ? now : null,
    };
    const write = () => {
      // The stored transition keeps its reason and officer: the event row holds only the latest.
      this.d.repo.update(next, from, now, { ...note, reason: next.reason, officer_id: next.officerId });
      this.publish(
        this.d.topics.eventState(e.id),
        transitionPayload(this.d.gatewayId, next, from, now, note),
        to === 'escalated' ? PRIORITY.dispatch : PRIORITY.event,
        e.id,
      );
    };
    if (this.d.db.inTransaction) write();
    else this.d.repo.tx(write);
    this.d.uplink.flush();
    this.d.log.info({ event: e.id, from, to, reason: next.reason ?? undefined }, `event ${to}`);
    this.d.bus.emit('event.transition', { event: next, from, to, at: now });
    if (proceed) this.schedule(next);
    return next;
  }

  /** Cancels an open event (platform command, operator); an officer on it is told to stand down. */
  cancel(id: string, reason: string, by: 'platform' | 'gateway' = 'platform'): EventRecord | null {
    return this.end(id, 'cancelled', reason, by);
  }

  /** Closes an open event as dealt with by the platform. */
  resolve(id: string, reason: string): EventRecord | null {
    return this.end(id, 'closed', reason, 'platform');
  }

  private end(id: string, to: 'cancelled' | 'closed', reason: string, by: 'platform' | 'gateway'): EventRecord | null {
    const e = this.d.repo.get(id);
    if (!e || TERMINAL.has(e.state)) return null;
    const moved = this.d.repo.tx(() => {
      this.dispatcher.withdraw(e, `event ${to}: ${reason}`);
      return this.transition(e, to, { reason }, { by });
    });
    this.wake('unassigned');
    return moved;
  }

  /** Runs the open events in `state` now rather than at their due time (an officer became free). */
  wake(state: EventState): void {
    const now = this.d.clock.now();
    for (const e of this.d.repo.open()) {
      if (e.state !== state || this.busy.has(e.id)) continue;
      this.schedule({ ...e, dueAt: now });
      this.d.repo.update({ ...e, dueAt: now }, e.state, now);
    }
  }

  private publish(topic: string, payload: { msg_id: string } & Record<string, unknown>, priority: number, orderKey: string | null): void {
    const msgId = ulid(this.d.clock.now());
    payload.msg_id = msgId;
    this.d.uplink.enqueue({ msgId, topic, payload: JSON.stringify(payload), qos: 1, priority, orderKey });
  }

  private camera(id: string): CameraInfo {
    return this.d.cameras.get(id) ?? { id, name: id, location: { lat: 0, lon: 0 } };
  }

  /** Stops timers and waits (a bounded time) for steps under way, such as a warning playing. */
  async stop(waitMs = 15_000): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const pending = [...this.busy.values()];
    if (pending.length) await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }
}
