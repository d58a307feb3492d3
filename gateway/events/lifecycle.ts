/**
 * The only code that changes an event's state. A decision (core/decision.ts) is applied
 * in one SQLite transaction: the event row, its transitions, dispatch rows, warnings and
 * every outbox message, so what is stored and what the platform hears never disagree.
 * A move the table in core/event.ts does not allow is an error and writes nothing.
 */
import { ulid } from 'ulid';
import type { Logger } from '../log.ts';
import type { Clock } from '../clock.ts';
import type { Bus } from '../bus.ts';
import type { Uplink } from '../uplink/uplink.ts';
import type { Topics } from '../api/topics.ts';
import { PRIORITY } from '../store/outbox.ts';
import { delivery } from '../api/channels.ts';
import type { EventsRepo } from '../store/events.ts';
import type { DispatchesRepo } from '../store/dispatches.ts';
import type { WarningsRepo } from '../store/warnings.ts';
import { transitionPayload, warningPayload } from '../api/payloads.ts';
import type { WarningOutcome } from '../alert/types.ts';
import { allowed, LIFECYCLE, TERMINAL, type EventRecord, type EventState } from '../core/event.ts';
import type { Decision, Effect } from '../core/decision.ts';

export { LIFECYCLE, TERMINAL, allowed };

export class IllegalTransition extends Error {
  readonly eventId: string;
  readonly from: EventState;
  readonly to: EventState;
  constructor(eventId: string, from: EventState, to: EventState) {
    super(`event ${eventId}: no transition from ${from} to ${to}`);
    this.eventId = eventId;
    this.from = from;
    this.to = to;
  }
}

export interface LifecycleDeps {
  repo: EventsRepo;
  dispatches: DispatchesRepo;
  warnings: WarningsRepo;
  uplink: Uplink;
  topics: Topics;
  gatewayId: string;
  log: Logger;
  clock: Clock;
  bus: Bus;
}

type Moved = { event: EventRecord; from: EventState; to: EventState; at: number };

export class EventLifecycle {
  private readonly d: LifecycleDeps;

  constructor(d: LifecycleDeps) {
    this.d = d;
  }

  /** Applies a decision; returns the event as it now stands. */
  apply(decision: Decision): EventRecord {
    const { repo, uplink, log, bus } = this.d;
    const now = this.d.clock.now();
    let e = decision.event;
    const moved: Moved[] = [];
    const warned: WarningOutcome[] = [];
    repo.tx(() => {
      for (const fx of decision.effects) {
        if (fx.kind === 'move') {
          const from = e.state;
          e = this.move(e, fx, now);
          moved.push({ event: e, from, to: fx.to, at: now });
        } else if (fx.kind === 'wait') {
          e = { ...e, dueAt: fx.dueAt, data: fx.data ? { ...e.data, ...fx.data } : e.data, updatedAt: now };
          repo.update(e, e.state, now);
        } else if (fx.kind === 'send') {
          this.send(fx.topic, fx.payload, fx.priority, e.id, fx.expiresAt ?? null);
        } else if (fx.kind === 'unsend') {
          uplink.unsend(fx.topic, e.id, fx.fields);
        } else if (fx.kind === 'dispatch') {
          if (fx.insert) this.d.dispatches.insert(fx.record);
          else this.d.dispatches.update(fx.record);
        } else {
          this.writeWarnings(fx.outcomes);
          warned.push(...fx.outcomes);
        }
      }
    });
    uplink.flush();
    this.announce(warned);
    for (const m of moved) {
      log.info({ event: m.event.id, from: m.from, to: m.to, reason: m.event.reason ?? undefined }, `event ${m.to}`);
      bus.emit('event.transition', m);
    }
    if (decision.log) log[decision.log.level]({ event: e.id, ...decision.log.fields }, decision.log.msg);
    return e;
  }

  /** A new event, confirmed: the row, its first transition, the event message and the transition message together. */
  create(row: Omit<EventRecord, 'seq'>, message: (e: EventRecord) => { msg_id: string }): EventRecord {
    const { repo, topics, gatewayId } = this.d;
    const e = repo.tx(() => {
      const e = repo.insert(row);
      this.send(topics.events(), message(e), PRIORITY.event, e.id);
      this.send(topics.eventState(e.id), transitionPayload(gatewayId, e, null, e.confirmedAt, {}), PRIORITY.event, e.id);
      return e;
    });
    this.d.uplink.flush();
    this.d.bus.emit('event.transition', { event: e, from: null, to: e.state, at: e.confirmedAt });
    return e;
  }

  /** Warning attempts that belong to no event (a test or a shout from the platform). */
  recordWarnings(outcomes: WarningOutcome[]): void {
    this.d.repo.tx(() => this.writeWarnings(outcomes));
    this.d.uplink.flush();
    this.announce(outcomes);
  }

  /** An outbox message in order with the event's others (call inside a transaction). */
  send(topic: string, payload: { msg_id: string }, priority: number, orderKey: string | null, expiresAt: number | null = null): void {
    const msgId = ulid(this.d.clock.now());
    payload.msg_id = msgId;
    const channel = this.d.topics.channelOf(topic);
    if (!channel) throw new Error(`no channel in api/channels.ts for ${topic}`);
    this.d.uplink.enqueue({ msgId, topic, payload: JSON.stringify(payload), ...delivery(channel), priority, orderKey, expiresAt });
  }

  private move(e: EventRecord, fx: Extract<Effect, { kind: 'move' }>, now: number): EventRecord {
    if (!allowed(e.state, fx.to)) throw new IllegalTransition(e.id, e.state, fx.to);
    const next: EventRecord = {
      ...e,
      state: fx.to,
      reason: fx.reason !== undefined ? fx.reason : e.reason,
      officerId: fx.officerId !== undefined ? fx.officerId : e.officerId,
      data: fx.data ? { ...e.data, ...fx.data } : e.data,
      updatedAt: now,
      dueAt: fx.dueAt ?? null,
      closedAt: TERMINAL.has(fx.to) ? now : null,
    };
    const note = fx.note ?? {};
    // The stored transition keeps its reason and officer: the event row holds only the latest.
    this.d.repo.update(next, e.state, now, { ...note, reason: next.reason, officer_id: next.officerId });
    const priority = fx.to === 'escalated' ? PRIORITY.dispatch : PRIORITY.event;
    this.send(this.d.topics.eventState(e.id), transitionPayload(this.d.gatewayId, next, e.state, now, note), priority, e.id);
    return next;
  }

  private writeWarnings(outcomes: WarningOutcome[]): void {
    for (const o of outcomes) {
      this.d.warnings.insert(o);
      this.send(this.d.topics.warnings(), warningPayload(this.d.gatewayId, o), PRIORITY.event, o.eventId);
    }
  }

  private announce(outcomes: WarningOutcome[]): void {
    for (const o of outcomes) {
      this.d.bus.emit('warning.outcome', o);
      const level = o.outcome === 'played' ? 'info' : 'warn';
      this.d.log[level](
        { event: o.eventId, speaker: o.speaker, outcome: o.outcome, reason: o.reason, duration_s: o.durationMs / 1000 },
        `warning ${o.outcome}`,
      );
    }
  }
}
