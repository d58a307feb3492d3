/**
 * Dispatch as a state machine. An escalated event is offered to the nearest available
 * officer ("1+3": neighbouring towns' officers when nobody local is in range). The offer
 * waits `ack_timeout_s` for an answer; a decline or no answer moves the event back to
 * escalated and on to the next-nearest. Accept, arrived and closed move the event on.
 * Nobody available: the event waits as unassigned, the platform gets an alert, and it
 * is tried again every `retry_s` and whenever an officer becomes free.
 *
 * Every method returns a decision (core/decision.ts) and writes nothing: the event
 * lifecycle applies it, in one SQLite transaction with its MQTT messages. Timers are the
 * event's due_at, so a restart continues where it stopped. An officer holds at most
 * `max_jobs_per_officer` open dispatches (offered, accepted, arrived) at once.
 *
 * A broker outage stops the clock for officers: no offer starts while the uplink is
 * down (the event waits), and an offer out when it drops is paused (`offer_paused`) and
 * sent again with its full answer time once the uplink is back, so nobody times out
 * (and is passed over for `reask_after_s`) on an offer that could not reach them.
 */
import { ulid } from 'ulid';
import type { Logger } from '../log.ts';
import type { Db } from '../store/db.ts';
import type { EventsRepo } from '../store/events.ts';
import { DispatchesRepo, type DispatchRecord, type DispatchState } from '../store/dispatches.ts';
import { PRIORITY } from '../store/outbox.ts';
import type { Topics } from '../api/topics.ts';
import { alertPayload, dispatchPayload, type CameraInfo } from '../api/payloads.ts';
import type { OfficerReply } from '../api/schema/dispatch.ts';
import type { Roster } from './roster.ts';
import { choose } from './select.ts';
import type { DispatchConfig } from './config.ts';
import { TERMINAL, type EventRecord, type EventState } from '../core/event.ts';
import type { AnswerResult, Decision, DispatchStage, Effect } from '../core/decision.ts';
import type { OfficerClaims } from './claims.ts';

export { DEFAULT_DISPATCH, type DispatchConfig } from './config.ts';

export interface DispatcherDeps {
  db: Db;
  repo: EventsRepo;
  topics: Topics;
  gatewayId: string;
  log: Logger;
  roster: Roster;
  cameras: Map<string, CameraInfo>;
  zoneName: (e: EventRecord) => string;
  evidenceUrl?: (e: EventRecord) => string | null;
  config: DispatchConfig;
  /** Officers shared with other boxes are claimed before an offer (fleet.claims); null: this box alone. */
  claims?: OfficerClaims | null;
  /** Runs one event's next step now (a claim's outcome is known). */
  retry?: (eventId: string) => void;
  /** Whether the uplink is connected; without it offers are made as if it always were. */
  link?: () => boolean;
}

/** A claim's outcome normally runs the event at once; this is only the safety net. */
const CLAIM_FALLBACK_MS = 10_000;

export class Dispatcher implements DispatchStage {
  private readonly d: DispatcherDeps;
  readonly dispatches: DispatchesRepo;
  /** Events whose officer claim failed for want of the broker: unassigned on their next step. */
  private readonly claimOffline = new Set<string>();

  constructor(d: DispatcherDeps) {
    this.d = d;
    this.dispatches = new DispatchesRepo(d.db);
  }

  /** Settings changed (reload_config): applies to the next offer. */
  configure(config: DispatchConfig): void {
    this.d.config = config;
  }

  assign(e: EventRecord, now: number): Decision {
    const { config: c, roster } = this.d;
    // An offer nobody can receive would only time out: wait for the broker (its return wakes the event).
    if (!this.linkUp())
      return {
        event: e,
        effects: [{ kind: 'wait', dueAt: now + c.retryS * 1000 }],
        log: { level: 'info', msg: 'broker unreachable: no offer is made until it is back' },
      };
    const cam = this.camera(e.camera);
    const tried = this.dispatches.refusedSince(e.id, now - c.reaskAfterS * 1000);
    const exclude = new Set(tried);
    for (const [officer, n] of this.dispatches.activeJobs()) if (n >= c.maxJobsPerOfficer) exclude.add(officer);
    // --- fleet claims (issue 14): officers held by another box are out; the pick is claimed before the offer.
    // A claim takes a settle window: the event waits, and the claim's outcome runs assign again (retry).
    const claims = this.d.claims;
    const waitForClaim: Decision = { event: e, effects: [{ kind: 'wait', dueAt: now + CLAIM_FALLBACK_MS }] };
    if (this.claimOffline.delete(e.id)) return this.unassigned(e, cam, [...tried], now, 'officers cannot be claimed: broker unreachable');
    if (claims?.claiming(e.id)) return waitForClaim;
    for (const o of claims?.unavailable() ?? []) exclude.add(o);
    const pick = choose(roster.candidates(cam.location.lat, cam.location.lon, now, c.positionMaxAgeS, exclude), c);
    if (pick && claims && !claims.holds(pick.officer.id)) {
      void claims.claim(pick.officer.id, e.id).then((r) => {
        if (r === 'offline') this.claimOffline.add(e.id);
        this.d.retry?.(e.id); // won: offered now; lost: the next candidate; offline: unassigned
      });
      return waitForClaim;
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
    const note = { dispatch_id: rec.id, distance_m: Math.round(rec.distanceM), tier: rec.tier, town: rec.town, attempt: rec.attempt };
    return {
      event: e,
      effects: [
        { kind: 'dispatch', record: rec, insert: true },
        { kind: 'move', to: 'dispatched', officerId: rec.officerId, reason: null, dueAt: rec.dueAt, note },
        ...this.publish(e, rec, now),
      ],
      log: {
        level: 'info',
        msg: rec.tier === 'local' ? 'dispatched to the nearest officer' : "dispatched to a neighbouring town's officer (1+3)",
        fields: { officer: rec.officerId, distance_m: Math.round(rec.distanceM), tier: rec.tier, attempt: rec.attempt },
      },
    };
  }

  private unassigned(e: EventRecord, cam: CameraInfo, tried: string[], now: number, why?: string): Decision {
    const dueAt = now + this.d.config.retryS * 1000;
    // Still nobody: look again later; the platform was alerted when it started.
    if (e.state === 'unassigned') return { event: e, effects: [{ kind: 'wait', dueAt }] };
    const reason =
      why ?? (tried.length ? `no other available officer (asked: ${tried.join(', ')})` : 'no available officer with a recent position');
    const message = `no available officer for event ${e.id} (${e.type}) at ${cam.name}: ${reason}; trying again every ${this.d.config.retryS} s`;
    return {
      event: e,
      effects: [
        { kind: 'move', to: 'unassigned', reason, dueAt, officerId: null },
        this.alert(alertPayload(this.d.gatewayId, { kind: 'no_officer', event_id: e.id, tried, message }, now)),
      ],
      log: { level: 'warn', msg: 'no officer available; platform alerted', fields: { tried } },
    };
  }

  expire(e: EventRecord, now: number): Decision {
    const cur = this.dispatches.current(e.id);
    if (cur?.state !== 'offered')
      return {
        event: e,
        effects: [{ kind: 'move', to: 'escalated', reason: 'offer lost', officerId: null }],
        next: 'assign',
        log: {
          level: 'warn',
          msg: 'dispatched event without an open offer; asking again',
          fields: { dispatch: cur?.id, state: cur?.state },
        },
      };
    if (!this.linkUp()) return this.pause(e, now)!;
    if (e.data.offer_paused === cur.id) return this.reoffer(e, cur, now);
    const who = this.officerName(cur.officerId);
    const s = this.d.config.ackTimeoutS;
    return this.refuse(e, cur, 'timed_out', `no answer within ${s} s`, `no answer from ${who} within ${s} s`, now);
  }

  /**
   * The uplink dropped: the open offer's answer time stops until it is back (its return
   * runs the event; the due time is only a safety net). Null: no open offer.
   */
  pause(e: EventRecord, now: number): Decision | null {
    const cur = this.dispatches.current(e.id);
    if (e.state !== 'dispatched' || cur?.state !== 'offered') return null;
    const wait: Decision = {
      event: e,
      effects: [{ kind: 'wait', dueAt: now + this.d.config.retryS * 1000, data: { offer_paused: cur.id } }, this.unsendOffer(cur)],
    };
    if (e.data.offer_paused === cur.id) return wait;
    return {
      ...wait,
      log: { level: 'info', msg: 'broker unreachable: the offer is paused until it is back', fields: { officer: cur.officerId } },
    };
  }

  /** The uplink is back: a paused offer goes out again with its full answer time. */
  private reoffer(e: EventRecord, cur: DispatchRecord, now: number): Decision {
    const next: DispatchRecord = { ...cur, updatedAt: now, dueAt: now + this.d.config.ackTimeoutS * 1000 };
    return {
      event: e,
      effects: [
        this.unsendOffer(cur),
        { kind: 'dispatch', record: next },
        { kind: 'wait', dueAt: next.dueAt, data: { offer_paused: null } },
        ...this.publish(e, next, now),
      ],
      log: {
        level: 'info',
        msg: 'broker back: the paused offer is sent again with its full answer time',
        fields: { officer: cur.officerId },
      },
    };
  }

  /**
   * A copy of the offer still waiting to leave (in the outbox, or in flight when the link
   * dropped) would reach the phone after the reconnect beside the one sent again, with an
   * older answer time: it is taken back.
   */
  private unsendOffer(cur: DispatchRecord): Effect {
    return { kind: 'unsend', topic: this.d.topics.officerDispatch(cur.officerId), fields: { dispatch_id: cur.id, state: 'offered' } };
  }

  private linkUp(): boolean {
    return this.d.link?.() ?? true;
  }

  overdue(e: EventRecord, now: number): Decision {
    if (e.data.overdue_alerted) return { event: e, effects: [] };
    const cur = this.dispatches.current(e.id);
    const message = `event ${e.id} (${e.type}) with ${cur ? this.officerName(cur.officerId) : 'an officer'} is past its deadline`;
    return {
      event: e,
      effects: [
        { kind: 'wait', dueAt: null, data: { overdue_alerted: true } },
        this.alert(
          alertPayload(this.d.gatewayId, { kind: 'overdue', event_id: e.id, officer_id: cur?.officerId ?? e.officerId, message }, now),
        ),
      ],
      log: { level: 'warn', msg: 'dispatched matter is past its deadline; platform alerted', fields: { officer: cur?.officerId } },
    };
  }

  /** Unknown dispatch ids belong to other gateways. */
  answer(officerId: string, r: OfficerReply, now: number): { result: AnswerResult; decision?: Decision } {
    const cur = this.dispatches.get(r.dispatch_id);
    if (!cur) return { result: { known: false } };
    if (cur.officerId !== officerId)
      return {
        result: {
          known: true,
          changed: false,
          state: cur.state,
          error: `dispatch ${cur.id} was offered to ${cur.officerId}, not ${officerId}`,
        },
      };
    const e = this.d.repo.get(cur.eventId);
    const expected: Partial<Record<DispatchState, EventState>> = { offered: 'dispatched', accepted: 'acknowledged', arrived: 'arrived' };
    if (!e || TERMINAL.has(e.state) || expected[cur.state] !== e.state) {
      // Too late (timed out, withdrawn) or already done: tell the phone how things stand.
      const result = { known: true as const, changed: false, state: cur.state, error: `dispatch is ${cur.state}` };
      return { result, decision: e ? { event: e, effects: this.publish(e, cur, now, true) } : undefined };
    }
    const name = this.officerName(officerId);
    const changed = (state: DispatchState, decision: Decision) => ({ result: { known: true as const, changed: true, state }, decision });
    switch (r.action) {
      case 'decline':
        return changed(
          'declined',
          this.refuse(e, cur, 'declined', r.reason ?? null, `declined by ${name}${r.reason ? `: ${r.reason}` : ''}`, now),
        );
      case 'accept':
        if (cur.state !== 'offered') return this.again(e, cur, now);
        return changed('accepted', this.advance(e, cur, 'accepted', now));
      case 'arrived':
        if (cur.state === 'arrived') return this.again(e, cur, now);
        return changed('arrived', this.advance(e, cur, 'arrived', now));
      case 'closed':
        return changed('closed', this.advance(e, cur, 'closed', now, r.note));
    }
  }

  withdraw(e: EventRecord, reason: string, now: number): Effect[] {
    const cur = this.dispatches.current(e.id);
    if (!cur) return [];
    this.d.log.info({ event: e.id, officer: cur.officerId, reason }, 'dispatch withdrawn');
    const next = { ...cur, state: 'withdrawn' as const, reason, updatedAt: now, dueAt: null };
    return [{ kind: 'dispatch', record: next }, ...this.publish(e, next, now, true)];
  }

  /** A repeated answer: the phone hears the state again, nothing changes. */
  private again(e: EventRecord, cur: DispatchRecord, now: number): { result: AnswerResult; decision: Decision } {
    return { result: { known: true, changed: false, state: cur.state }, decision: { event: e, effects: this.publish(e, cur, now, true) } };
  }

  /** Declined or timed out: the event goes back to escalated, then to the next-nearest. */
  private refuse(
    e: EventRecord,
    cur: DispatchRecord,
    state: 'declined' | 'timed_out',
    reason: string | null,
    eventReason: string,
    now: number,
  ): Decision {
    const next = { ...cur, state, reason, updatedAt: now, dueAt: null };
    return {
      event: e,
      effects: [
        { kind: 'dispatch', record: next },
        ...this.publish(e, next, now),
        { kind: 'move', to: 'escalated', reason: eventReason, officerId: null, note: { dispatch_id: cur.id } },
      ],
      next: 'assign',
      freed: true,
      log: { level: 'info', msg: `dispatch ${state}; asking the next-nearest officer`, fields: { officer: cur.officerId, state } },
    };
  }

  /** accepted → arrived → closed, filling in skipped steps so the event's path stays whole. */
  private advance(e: EventRecord, cur: DispatchRecord, to: 'accepted' | 'arrived' | 'closed', now: number, note?: string): Decision {
    const next: DispatchRecord = { ...cur, state: to, updatedAt: now, dueAt: null };
    const base = { dispatch_id: cur.id };
    const effects: Effect[] = [];
    if (cur.state === 'offered') {
      next.acceptedAt = now;
      effects.push({ kind: 'move', to: 'acknowledged', dueAt: cur.deadlineAt, officerId: cur.officerId, note: base });
    }
    if (to === 'arrived') {
      next.arrivedAt = now;
      effects.push({ kind: 'move', to: 'arrived', dueAt: e.data.overdue_alerted ? null : cur.deadlineAt, note: base });
    }
    if (to === 'closed') {
      next.closedAt = now;
      next.reason = note ?? null;
      const reason = `closed by ${this.officerName(cur.officerId)}`;
      effects.push({ kind: 'move', to: 'closed', reason, dueAt: null, note: { ...base, by: 'officer', ...(note ? { note } : {}) } });
    }
    effects.push({ kind: 'dispatch', record: next }, ...this.publish(e, next, now));
    return {
      event: e,
      effects,
      freed: to === 'closed',
      log: { level: 'info', msg: `officer ${to}`, fields: { officer: cur.officerId, dispatch: cur.id } },
    };
  }

  /** The dispatch's state to the officer's phone and to the platform. */
  private publish(e: EventRecord, rec: DispatchRecord, at: number, officerOnly = false): Effect[] {
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
    const out: Effect[] = [
      {
        kind: 'send',
        topic: this.d.topics.officerDispatch(rec.officerId),
        payload,
        priority: PRIORITY.dispatch,
        expiresAt: rec.state === 'offered' ? rec.dueAt : null,
      },
    ];
    if (!officerOnly || rec.state === 'withdrawn')
      out.push({ kind: 'send', topic: this.d.topics.dispatches(), payload: { ...payload }, priority: PRIORITY.dispatch });
    return out;
  }

  private alert(payload: { msg_id: string }): Effect {
    return { kind: 'send', topic: this.d.topics.alerts(), payload, priority: PRIORITY.dispatch };
  }

  private officerName(id: string): string {
    const o = this.d.roster.get(id);
    return o ? `${o.name} (${id})` : id;
  }

  private camera(id: string): CameraInfo {
    return this.d.cameras.get(id) ?? { id, name: id, location: { lat: 0, lon: 0 } };
  }
}
