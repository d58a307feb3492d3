/**
 * Dispatch as a state machine. An escalated event is offered to the nearest available
 * officer ("1+3": neighbouring towns' officers when nobody local is in range). The offer
 * waits `ack_timeout_s` for an answer; a decline or no answer moves the event back to
 * escalated and on to the next-nearest. Accept, arrived and closed move the event on.
 * Nobody available: the event waits as unassigned, the platform gets an alert, and it
 * is tried again every `retry_s` and whenever an officer becomes free.
 *
 * Every change is one SQLite transaction with its MQTT messages; timers are the event's
 * due_at, so a restart continues where it stopped. An officer holds at most
 * `max_jobs_per_officer` open dispatches (offered, accepted, arrived) at once.
 */
import { ulid } from 'ulid';
import type { Logger } from '../log.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../store/db.ts';
import type { EventsRepo } from '../store/events.ts';
import { DispatchesRepo, type DispatchRecord, type DispatchState } from '../store/dispatches.ts';
import type { Uplink } from '../uplink/uplink.ts';
import { PRIORITY } from '../store/outbox.ts';
import type { Topics } from '../api/topics.ts';
import { alertPayload, dispatchPayload, type CameraInfo } from '../api/payloads.ts';
import type { OfficerReply } from '../api/schema/dispatch.ts';
import type { Roster } from './roster.ts';
import { choose } from './select.ts';
import type { DispatchConfig, Lifecycle } from './config.ts';
import { TERMINAL, type EventRecord, type EventState } from '../events/types.ts';
import type { OfficerClaims } from './claims.ts';

export { DEFAULT_DISPATCH, type DispatchConfig, type Lifecycle } from './config.ts';

export interface DispatcherDeps {
  db: Db;
  repo: EventsRepo;
  uplink: Uplink;
  topics: Topics;
  gatewayId: string;
  log: Logger;
  clock: Clock;
  roster: Roster;
  cameras: Map<string, CameraInfo>;
  zoneName: (e: EventRecord) => string;
  evidenceUrl?: (e: EventRecord) => string | null;
  config: DispatchConfig;
  /** Officers shared with other boxes are claimed before an offer (fleet.claims); null: this box alone. */
  claims?: OfficerClaims | null;
}

export type AnswerResult = { known: false } | { known: true; changed: boolean; state: DispatchState; error?: string };

export class Dispatcher {
  private readonly d: DispatcherDeps;
  readonly dispatches: DispatchesRepo;
  private lc: Lifecycle | null = null;

  constructor(d: DispatcherDeps) {
    this.d = d;
    this.dispatches = new DispatchesRepo(d.db);
  }

  attach(lc: Lifecycle): void {
    this.lc = lc;
  }

  /** Settings changed (reload_config): applies to the next offer. */
  configure(config: DispatchConfig): void {
    this.d.config = config;
  }

  private get life(): Lifecycle {
    if (!this.lc) throw new Error('dispatcher not attached to the event lifecycle');
    return this.lc;
  }

  /** An escalated or unassigned event: offer it to the best available officer. */
  assign(e: EventRecord): void {
    const { config: c, clock, roster } = this.d;
    const now = clock.now();
    const cam = this.camera(e.camera);
    const tried = this.dispatches.refusedSince(e.id, now - c.reaskAfterS * 1000);
    const exclude = new Set(tried);
    for (const [officer, n] of this.dispatches.activeJobs()) if (n >= c.maxJobsPerOfficer) exclude.add(officer);
    // --- fleet claims (issue 14): officers held by another box are out; the pick is claimed before the offer.
    const claims = this.d.claims;
    if (claims?.claiming(e.id)) return;
    for (const o of claims?.unavailable() ?? []) exclude.add(o);
    const pick = choose(roster.candidates(cam.location.lat, cam.location.lon, now, c.positionMaxAgeS, exclude), c);
    if (pick && claims && !claims.holds(pick.officer.id)) {
      void claims.claim(pick.officer.id, e.id).then((r) => {
        const cur = this.d.repo.get(e.id);
        if (!cur || (cur.state !== 'escalated' && cur.state !== 'unassigned')) return; // ended meanwhile; the claim lapses
        if (r === 'offline')
          return this.unassigned(cur, cam, [...tried], this.d.clock.now(), 'officers cannot be claimed: broker unreachable');
        this.assign(cur); // won: offered now; lost: the next candidate
      });
      return;
    }
    // --- end of fleet claims
    if (!pick) return this.unassigned(e, cam, [...tried], now);
    const rec: DispatchRecord = {
      id: ulid(now),
      eventId: e.id,
      officerId: pick.officer.id,
      state: 'offered',
      distanceM: pick.distanceM,
      town: pick.officer.town ?? null,
      tier: pick.tier,
      attempt: this.dispatches.attempts(e.id) + 1,
      reason: null,
      createdAt: now,
      updatedAt: now,
      dueAt: now + c.ackTimeoutS * 1000,
      deadlineAt: now + c.deadlineS * 1000,
      acceptedAt: null,
      arrivedAt: null,
      closedAt: null,
    };
    this.d.repo.tx(() => {
      this.dispatches.insert(rec);
      const note = { dispatch_id: rec.id, distance_m: Math.round(rec.distanceM), tier: rec.tier, town: rec.town, attempt: rec.attempt };
      const moved = this.life.transition(e, 'dispatched', { officerId: rec.officerId, reason: null, dueAt: rec.dueAt }, note);
      this.publish(moved, rec, now);
    });
    this.d.log.info(
      { event: e.id, officer: rec.officerId, distance_m: Math.round(rec.distanceM), tier: rec.tier, attempt: rec.attempt },
      rec.tier === 'local' ? 'dispatched to the nearest officer' : "dispatched to a neighbouring town's officer (1+3)",
    );
  }

  private unassigned(e: EventRecord, cam: CameraInfo, tried: string[], now: number, why?: string): void {
    const dueAt = now + this.d.config.retryS * 1000;
    if (e.state === 'unassigned') {
      // Still nobody: look again later; the platform was alerted when it started.
      this.d.repo.update({ ...e, dueAt, updatedAt: now }, e.state, now);
      return this.life.schedule({ ...e, dueAt });
    }
    const reason =
      why ?? (tried.length ? `no other available officer (asked: ${tried.join(', ')})` : 'no available officer with a recent position');
    this.d.repo.tx(() => {
      this.life.transition(e, 'unassigned', { reason, dueAt, officerId: null });
      const message = `no available officer for event ${e.id} (${e.type}) at ${cam.name}: ${reason}; trying again every ${this.d.config.retryS} s`;
      this.enqueue(
        this.d.topics.alerts(),
        alertPayload(this.d.gatewayId, { kind: 'no_officer', event_id: e.id, tried, message }, now),
        e.id,
      );
    });
    this.d.log.warn({ event: e.id, tried }, 'no officer available; platform alerted');
  }

  /** The offer's answer time has passed without an answer. */
  expire(e: EventRecord): void {
    const cur = this.dispatches.current(e.id);
    if (cur?.state !== 'offered') {
      this.d.log.warn({ event: e.id, dispatch: cur?.id, state: cur?.state }, 'dispatched event without an open offer; asking again');
      return this.assign(this.life.transition(e, 'escalated', { reason: 'offer lost', officerId: null }, {}, false));
    }
    const who = this.officerName(cur.officerId);
    this.refuse(
      e,
      cur,
      'timed_out',
      `no answer within ${this.d.config.ackTimeoutS} s`,
      `no answer from ${who} within ${this.d.config.ackTimeoutS} s`,
    );
  }

  /** An accepted matter is past its deadline: tell the platform, once. */
  overdue(e: EventRecord): void {
    if (e.data.overdue_alerted) return;
    const now = this.d.clock.now();
    const cur = this.dispatches.current(e.id);
    this.d.repo.tx(() => {
      this.d.repo.update({ ...e, dueAt: null, updatedAt: now, data: { ...e.data, overdue_alerted: true } }, e.state, now);
      const message = `event ${e.id} (${e.type}) with ${cur ? this.officerName(cur.officerId) : 'an officer'} is past its deadline`;
      this.enqueue(
        this.d.topics.alerts(),
        alertPayload(this.d.gatewayId, { kind: 'overdue', event_id: e.id, officer_id: cur?.officerId ?? e.officerId, message }, now),
        e.id,
      );
    });
    this.d.log.warn({ event: e.id, officer: cur?.officerId }, 'dispatched matter is past its deadline; platform alerted');
  }

  /** An officer's answer from the phone. Unknown dispatch ids belong to other gateways. */
  answer(officerId: string, r: OfficerReply): AnswerResult {
    const cur = this.dispatches.get(r.dispatch_id);
    if (!cur) return { known: false };
    if (cur.officerId !== officerId)
      return {
        known: true,
        changed: false,
        state: cur.state,
        error: `dispatch ${cur.id} was offered to ${cur.officerId}, not ${officerId}`,
      };
    const e = this.d.repo.get(cur.eventId);
    const expected: Partial<Record<DispatchState, EventState>> = { offered: 'dispatched', accepted: 'acknowledged', arrived: 'arrived' };
    if (!e || TERMINAL.has(e.state) || expected[cur.state] !== e.state) {
      // Too late (timed out, withdrawn) or already done: tell the phone how things stand.
      this.d.repo.tx(() => e && this.publish(e, cur, this.d.clock.now(), true));
      return { known: true, changed: false, state: cur.state, error: `dispatch is ${cur.state}` };
    }
    const name = this.officerName(officerId);
    switch (r.action) {
      case 'decline':
        this.refuse(e, cur, 'declined', r.reason ?? null, `declined by ${name}${r.reason ? `: ${r.reason}` : ''}`);
        return { known: true, changed: true, state: 'declined' };
      case 'accept':
        if (cur.state !== 'offered') return this.repeat(e, cur);
        this.advance(e, cur, 'accepted');
        return { known: true, changed: true, state: 'accepted' };
      case 'arrived':
        if (cur.state === 'arrived') return this.repeat(e, cur);
        this.advance(e, cur, 'arrived');
        return { known: true, changed: true, state: 'arrived' };
      case 'closed':
        this.advance(e, cur, 'closed', r.note);
        return { known: true, changed: true, state: 'closed' };
    }
  }

  /** The event ended another way (resolved, cancelled): the officer is told to stand down. */
  withdraw(e: EventRecord, reason: string): void {
    const cur = this.dispatches.current(e.id);
    if (!cur) return;
    const now = this.d.clock.now();
    const next = { ...cur, state: 'withdrawn' as const, reason, updatedAt: now, dueAt: null };
    this.dispatches.update(next);
    this.publish(e, next, now, true);
    this.d.log.info({ event: e.id, officer: cur.officerId, reason }, 'dispatch withdrawn');
  }

  /** The officer is free again: events waiting for somebody get another chance. */
  private freed(): void {
    this.life.wake('unassigned');
  }

  private repeat(e: EventRecord, cur: DispatchRecord): AnswerResult {
    this.d.repo.tx(() => this.publish(e, cur, this.d.clock.now(), true));
    return { known: true, changed: false, state: cur.state };
  }

  /** Declined or timed out: the event goes back to escalated, then to the next-nearest. */
  private refuse(e: EventRecord, cur: DispatchRecord, state: 'declined' | 'timed_out', reason: string | null, eventReason: string): void {
    const now = this.d.clock.now();
    const next = { ...cur, state, reason, updatedAt: now, dueAt: null };
    const moved = this.d.repo.tx(() => {
      this.dispatches.update(next);
      this.publish(e, next, now);
      return this.life.transition(e, 'escalated', { reason: eventReason, officerId: null }, { dispatch_id: cur.id }, false);
    });
    this.d.log.info({ event: e.id, officer: cur.officerId, state }, `dispatch ${state}; asking the next-nearest officer`);
    this.assign(moved);
    this.freed();
  }

  /** accepted → arrived → closed, filling in skipped steps so the event's path stays whole. */
  private advance(e: EventRecord, cur: DispatchRecord, to: 'accepted' | 'arrived' | 'closed', note?: string): void {
    const now = this.d.clock.now();
    const next: DispatchRecord = { ...cur, state: to, updatedAt: now, dueAt: null };
    this.d.repo.tx(() => {
      let ev = e;
      const base = { dispatch_id: cur.id };
      if (cur.state === 'offered') {
        next.acceptedAt = now;
        ev = this.life.transition(ev, 'acknowledged', { dueAt: cur.deadlineAt, officerId: cur.officerId }, base, to === 'accepted');
      }
      if (to === 'arrived') {
        next.arrivedAt = now;
        ev = this.life.transition(ev, 'arrived', { dueAt: ev.data.overdue_alerted ? null : cur.deadlineAt }, base);
      }
      if (to === 'closed') {
        next.closedAt = now;
        next.reason = note ?? null;
        ev = this.life.transition(
          ev,
          'closed',
          { reason: `closed by ${this.officerName(cur.officerId)}`, dueAt: null },
          { ...base, by: 'officer', ...(note ? { note } : {}) },
        );
      }
      this.dispatches.update(next);
      this.publish(ev, next, now);
    });
    this.d.log.info({ event: e.id, officer: cur.officerId, dispatch: cur.id }, `officer ${to}`);
    if (to === 'closed') this.freed();
  }

  /** The dispatch's state to the officer's phone and to the platform. */
  private publish(e: EventRecord, rec: DispatchRecord, at: number, officerOnly = false): void {
    const o = this.d.roster.get(rec.officerId);
    const payload = dispatchPayload(
      this.d.gatewayId,
      e,
      this.camera(e.camera),
      this.d.zoneName(e),
      rec,
      { name: o?.name ?? rec.officerId, town: o?.town },
      this.d.evidenceUrl?.(e) ?? null,
      at,
    );
    // An offer nobody can answer any more is worth nothing: it expires with its answer time.
    this.enqueue(this.d.topics.officerDispatch(rec.officerId), payload, e.id, rec.state === 'offered' ? rec.dueAt : null);
    if (!officerOnly || rec.state === 'withdrawn') this.enqueue(this.d.topics.dispatches(), { ...payload }, e.id);
  }

  private enqueue(topic: string, payload: { msg_id: string }, orderKey: string, expiresAt: number | null = null): void {
    const msgId = ulid(this.d.clock.now());
    payload.msg_id = msgId;
    this.d.uplink.enqueue({ msgId, topic, payload: JSON.stringify(payload), qos: 1, priority: PRIORITY.dispatch, orderKey, expiresAt });
    this.d.uplink.flush();
  }

  private officerName(id: string): string {
    const o = this.d.roster.get(id);
    return o ? `${o.name} (${id})` : id;
  }

  private camera(id: string): CameraInfo {
    return this.d.cameras.get(id) ?? { id, name: id, location: { lat: 0, lon: 0 } };
  }
}
