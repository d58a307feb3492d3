/**
 * What a stage decides about one event, as data: the warning policy, the recheck and
 * dispatch return these; events/lifecycle.ts applies one in a single transaction (row,
 * transitions, dispatch rows, warnings and outbox messages) and is the only code that
 * changes an event's state. Deciders read the store; they never write it.
 */
import type { EventRecord, EventState } from './event.ts';
import type { TransitionNote } from '../api/schema/events.ts';
import type { DispatchRecord, DispatchState } from '../store/dispatches.ts';
import type { WarningOutcome } from '../alert/types.ts';
import type { OfficerReply } from '../api/schema/dispatch.ts';

export type Effect =
  /** A state change, with the row's new due time, reason, officer and data. */
  | {
      kind: 'move';
      to: EventState;
      dueAt?: number | null;
      reason?: string | null;
      officerId?: string | null;
      data?: Record<string, unknown>;
      note?: TransitionNote;
    }
  /** No state change: the event is looked at again at `dueAt` (null: no timer). */
  | { kind: 'wait'; dueAt: number | null; data?: Record<string, unknown> }
  /** A message to the outbox, in order with the event's other messages. */
  | { kind: 'send'; topic: string; payload: { msg_id: string }; priority: number; expiresAt?: number | null }
  /** Takes back the event's messages on `topic` not yet delivered whose payload has these fields (a stale copy). */
  | { kind: 'unsend'; topic: string; fields: Record<string, string> }
  | { kind: 'dispatch'; record: DispatchRecord; insert?: boolean }
  | { kind: 'warnings'; outcomes: WarningOutcome[] };

export interface Decision {
  event: EventRecord;
  effects: Effect[];
  /** Logged once the decision is applied. */
  log?: { level: 'info' | 'warn'; msg: string; fields?: Record<string, unknown> };
  /** Run right after applying: 'assign' offers the event to the next officer at once. */
  next?: 'assign';
  /** An officer became free: events waiting for one get another chance. */
  freed?: boolean;
}

export type AnswerResult = { known: false } | { known: true; changed: boolean; state: DispatchState; error?: string };

/** Dispatch as the event lifecycle sees it: every call returns what should happen. */
export interface DispatchStage {
  /** An escalated or unassigned event: offer it to the best available officer. */
  assign(e: EventRecord, now: number): Decision;
  /** The offer's answer time passed without an answer. */
  expire(e: EventRecord, now: number): Decision;
  /** The uplink dropped: an open offer's answer time stops until it is back (null: no open offer). */
  pause(e: EventRecord, now: number): Decision | null;
  /** An accepted matter is past its deadline. */
  overdue(e: EventRecord, now: number): Decision;
  /** An officer's answer; a decision when it changes something. */
  answer(officerId: string, r: OfficerReply, now: number): { result: AnswerResult; decision?: Decision };
  /** The event ended another way: what tells the officer to stand down. */
  withdraw(e: EventRecord, reason: string, now: number): Effect[];
}
