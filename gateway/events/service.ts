/**
 * Runs events through their lifecycle (core/event.ts): on each event's due time it asks
 * the stage that decides (warning policy, recheck, dispatch) what happens next, does
 * what cannot be a decision (playing audio), and hands the decision to events/lifecycle.ts,
 * which alone changes state. Timers are due_at columns: a restart resumes every event.
 */
import type { EventsRepo } from '../store/events.ts';
import type { CameraInfo } from '../api/payloads.ts';
import type { OfficerReply } from '../api/schema/dispatch.ts';
import type { Verdict, Presence } from '../rules/engine.ts';
import type { ZoneRule } from '../rules/zone-rules.ts';
import type { Warner } from '../alert/warner.ts';
import type { WarningPolicy } from '../alert/policy.ts';
import type { AnswerResult, Decision, DispatchStage } from '../core/decision.ts';
import { TERMINAL, type EventRecord, type EventState } from '../core/event.ts';
import { iou, type Box } from '../zones/geometry.ts';
import { draftRow, prepareEvent, recordEvent, type ConfirmDeps, type FrameCopy } from './confirm.ts';
import { HeldEvents } from './held.ts';
import type { Faults } from '../faults.ts';
import { Timers } from './timers.ts';
import * as policy from './warning-policy.ts';
import { dropEarly, repeat, warn, warnEarly, type WarnSteps } from './warn-steps.ts';

export type { FrameCopy } from './confirm.ts';
export interface EventServiceDeps extends Omit<ConfirmDeps, 'camera'> {
  repo: EventsRepo;
  dispatch: DispatchStage;
  warner: Pick<Warner, 'warn'>;
  policy: WarningPolicy;
  cameras: Map<string, CameraInfo & { speakers: string[] }>;
  rules: Map<string, ZoneRule>; // key: camera/zone/type
  presence: (e: EventRecord) => Presence;
  /** Where a full disk is reported; events the database refuses are held and retried (events/held.ts). */
  faults?: Faults;
}

export const ruleKey = (camera: string, zone: string, type: string) => `${camera}/${zone}/${type}`;

export class EventService {
  private readonly d: EventServiceDeps;
  private readonly timers: Timers;
  private readonly held: HeldEvents;
  private readonly steps: WarnSteps;

  constructor(d: EventServiceDeps) {
    this.d = d;
    this.timers = new Timers(d.clock, d.log, (id) => this.advance(id));
    const confirm = { ...d, camera: (id: string) => this.camera(id) };
    this.held = new HeldEvents({ log: d.log, faults: d.faults, write: (p) => recordEvent(confirm, p) });
    this.steps = { d, timers: this.timers, playing: new Map(), early: new Map(), apply: (x) => this.apply(x), rule: (e) => this.rule(e) };
  }

  private camera(id: string): CameraInfo {
    return this.d.cameras.get(id) ?? { id, name: id, location: { lat: 0, lon: 0 } };
  }

  /** Confirmed events waiting for the disk (held in memory). */
  heldEvents(): number {
    return this.held.size;
  }

  /** True when this spot already has an open event, or one that closed within the cooldown. */
  isSuppressed(rule: ZoneRule, box: Box, ts: number): boolean {
    const recent = this.d.repo.atSpot(rule.camera, rule.zone, rule.type, ts - rule.cooldownS * 1000);
    return recent.some((e) => iou(e.box, box) > 0.3 || rule.minCount > 1) || this.held.holds(rule, box);
  }

  /** An event of this camera asks whether its matter is there before `until`: the still gate keeps it analysed. */
  presenceDue(camera: string, until: number): boolean {
    return this.d.repo.presenceDue(camera, until);
  }

  /**
   * A verdict becomes an event, and its lifecycle starts. Its first warning starts now,
   * while the evidence is written (the row waits for the picture, so that its message
   * names it); the warning step then records that play. Resolves once the event is
   * stored: with the disk full that is when space is back (it is held until then).
   */
  async confirm(v: Verdict, frame: FrameCopy): Promise<EventRecord> {
    const d = { ...this.d, camera: (id: string) => this.camera(id) };
    const draft = draftRow(d, v);
    warnEarly(this.steps, { ...draft, seq: 0 });
    const stored = prepareEvent(d, v, frame, draft.id).then((p) => this.held.store(p));
    const e = await this.timers.track(`confirm:${v.rule.camera}:${v.at}:${v.tracks[0]?.id}`, stored).catch((err: Error) => {
      void dropEarly(this.steps, draft.id);
      throw err;
    });
    // The first step at once, not on a timer: it only records what is already playing.
    if (this.steps.early.has(e.id)) void this.timers.now(e);
    else this.timers.schedule(e);
    return e;
  }

  /** Re-arms every open event after a start: the lifecycle continues where it stopped. */
  resume(): number {
    const open = this.d.repo.open();
    for (const e of open) this.timers.schedule(e);
    if (open.length) this.d.log.info({ open: open.length }, 'resumed open events');
    return open.length;
  }

  /** Applies a decision and arms the event's next step; runs its follow-ups. */
  private apply(decision: Decision): EventRecord {
    const e = this.d.lifecycle.apply(decision);
    this.timers.schedule(e);
    if (decision.next === 'assign' && e.state === 'escalated') this.apply(this.d.dispatch.assign(e, this.d.clock.now()));
    if (decision.freed) this.wake('unassigned');
    return e;
  }

  /** One step of one event, by what its state and the clock say is next. */
  private async advance(id: string): Promise<void> {
    const e = this.d.repo.get(id);
    const now = this.d.clock.now();
    if (!e || TERMINAL.has(e.state)) return;
    if (!this.timers.due(e)) return this.timers.schedule(e);
    const dispatch = this.d.dispatch;
    switch (e.state) {
      case 'confirmed':
        return warn(this.steps, e);
      case 'warned':
        if (policy.repeatDue(e, this.rule(e), this.d.policy, this.timers.stepTime(e))) return repeat(this.steps, e);
        return void this.apply({ event: e, effects: policy.decideRecheck(e, this.d.presence(e), now) });
      case 'rechecked':
        return void this.apply({ event: e, effects: policy.decideRecheck(e, this.d.presence(e), now) });
      case 'escalated':
      case 'unassigned':
        return void this.apply(dispatch.assign(e, now));
      case 'dispatched':
        return void this.apply(dispatch.expire(e, now)); // the offer's answer time passed
      case 'acknowledged':
      case 'arrived':
        return void this.apply(dispatch.overdue(e, now));
    }
  }

  /** An officer's answer from the phone. */
  answer(officerId: string, r: OfficerReply): AnswerResult {
    const { result, decision } = this.d.dispatch.answer(officerId, r, this.d.clock.now());
    if (decision) this.apply(decision);
    return result;
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
    const withdraw = this.d.dispatch.withdraw(e, `event ${to}: ${reason}`, this.d.clock.now());
    return this.apply({ event: e, effects: [...withdraw, { kind: 'move', to, reason, note: { by } }], freed: true });
  }

  /**
   * The uplink dropped or came back. Down: open offers are paused (no answer can reach
   * us, nor the offer them). Up: paused offers go out again with their full answer time,
   * and events waiting to be offered are offered.
   */
  link(up: boolean): void {
    const now = this.d.clock.now();
    for (const e of this.d.repo.open()) {
      if (!up) {
        const pause = e.state === 'dispatched' ? this.d.dispatch.pause(e, now) : null;
        if (pause) this.apply(pause);
      } else if (e.state === 'escalated' || e.state === 'unassigned' || (e.state === 'dispatched' && e.data.offer_paused))
        this.runNow(e.id);
    }
  }

  /** Runs the open events in `state` now rather than at their due time (an officer became free). */
  wake(state: EventState): void {
    for (const e of this.d.repo.open()) if (e.state === state) this.runNow(e.id);
  }

  /** Runs one open event's next step now (a fleet claim's outcome is known), unless a step is under way. */
  runNow(id: string): void {
    const e = this.d.repo.get(id);
    if (!e || TERMINAL.has(e.state) || this.timers.busy(e.id)) return;
    this.timers.schedule(this.d.lifecycle.apply({ event: e, effects: [{ kind: 'wait', dueAt: this.d.clock.now() }] }));
  }

  private rule(e: EventRecord): ZoneRule | undefined {
    return this.d.rules.get(ruleKey(e.camera, e.zone, e.type));
  }

  /** Stops timers and waits (a bounded time) for steps under way, such as a warning playing. */
  stop(waitMs = 15_000): Promise<void> {
    this.held.stop();
    return this.timers.stop(waitMs);
  }
}
