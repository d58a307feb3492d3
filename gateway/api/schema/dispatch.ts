/** Dispatches to officers, what officers' phones send, and alerts for the platform. */
import { Type, type Static } from '@sinclair/typebox';
import { Enum, Gateway, Id, MsgId, Nullable, Sha256, Strict, Time, Transaction, Ulid, ViolationType, ULID_PATTERN } from './common.ts';
import { DISPATCH_STATES } from '../../store/dispatches.ts';

export const DispatchState = Enum(
  DISPATCH_STATES,
  "offered: waiting for the officer's answer; accepted, arrived, closed: the officer's answers; declined; timed_out: no answer in time; withdrawn: the event ended (resolved, cancelled) or the offer was taken back",
);

export const DispatchMessage = Strict(
  {
    msg_id: MsgId,
    gateway: Gateway,
    dispatch_id: Ulid('this dispatch: one officer asked about one event; answer with it'),
    event_id: Ulid('the event'),
    state: DispatchState,
    reason: Nullable(Type.String(), "why it is in this state, in words (declined: the officer's reason)"),
    officer_id: Id('the officer asked'),
    officer_name: Type.String(),
    town: Nullable(Type.String(), "the officer's town"),
    tier: Enum(
      ['local', 'neighbour'] as const,
      'local: an officer of this town; neighbour: of a neighbouring town, because nobody local was in range ("1+3")',
    ),
    attempt: Type.Integer({ minimum: 1, description: '1 for the first officer asked about this event, 2 for the next, ...' }),
    summary: Type.String({ description: 'one line for the officer: type and place, e.g. "违章停车：中心街广场 广场步行区"' }),
    type: ViolationType,
    type_zh: Type.String(),
    confirmed_at: Time('when the event was confirmed'),
    place: Strict(
      {
        camera_id: Id('camera id'),
        camera_name: Type.String(),
        zone: Type.String({ description: 'zone name' }),
        name: Nullable(Type.String(), 'place name'),
        lat: Type.Number({ minimum: -90, maximum: 90 }),
        lon: Type.Number({ minimum: -180, maximum: 180 }),
      },
      "where to go: the camera's position",
    ),
    distance_m: Type.Integer({ minimum: 0, description: "the officer's distance from the place when asked" }),
    evidence: Nullable(
      Strict(
        {
          sha256: Sha256,
          url: Nullable(
            Type.String({ format: 'uri' }),
            "GET it from the gateway's HTTP API; the link carries a token for this picture only",
          ),
        },
        'the evidence picture',
      ),
    ),
    answer_by: Nullable(Time('while offered: answer (accept or decline) before this, or the next-nearest officer is asked')),
    deadline: Time('the matter should be closed by then'),
    at: Time('when the dispatch reached this state'),
  },
  'a dispatch: the job offer to one officer, and each change of its state',
  'Dispatch',
);
export type DispatchMessage = Static<typeof DispatchMessage>;

export const OfficerState = Type.Object(
  {
    lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
    lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
    on_duty: Type.Optional(Type.Boolean({ default: true, description: 'false: never dispatched' })),
    busy: Type.Optional(
      Type.Boolean({ default: false, description: 'true: not dispatched (busy with something the gateway does not know about)' }),
    ),
    at: Type.Optional(
      Type.Union([Type.String({ format: 'date-time' }), Type.Integer({ minimum: 0 })], {
        description: 'when the phone measured this (ISO 8601, or ms since 1970); a report older than one already received is ignored',
      }),
    ),
  },
  {
    title: 'OfficerState',
    description:
      "what an officer's phone reports, every 10-60 s and on change: position and duty. lat and lon come together. Positions older than dispatch.position_max_age_s are not used. Other keys are ignored",
  },
);
export type OfficerState = Static<typeof OfficerState>;

export const OfficerReply = Type.Object(
  {
    dispatch_id: Type.String({ pattern: ULID_PATTERN, description: 'the dispatch being answered' }),
    action: Enum(
      ['accept', 'decline', 'arrived', 'closed'] as const,
      'accept or decline the offer; arrived at the place; closed: the matter is dealt with',
    ),
    reason: Type.Optional(Type.String({ maxLength: 500, description: 'decline: why' })),
    note: Type.Optional(Type.String({ maxLength: 2000, description: 'closed: what was done' })),
    at: Type.Optional(Type.String({ format: 'date-time', description: 'when the officer answered' })),
    transaction: Type.Optional(Transaction),
  },
  {
    title: 'OfficerReply',
    description:
      "an officer's answer to a dispatch. Each gateway acts only on its own dispatch ids (several gateways may follow one phone). The gateway confirms by publishing the dispatch with its new state on officers/{officer}/dispatch; an answer that comes too late gets the dispatch's actual state (timed_out, withdrawn). Other keys are ignored",
  },
);
export type OfficerReply = Static<typeof OfficerReply>;

export const AlertMessage = Strict(
  {
    msg_id: MsgId,
    gateway: Gateway,
    kind: Type.String({
      description:
        'no_officer: nobody available for an escalated event; overdue: a dispatched matter is past its deadline; disk_full: a write failed for want of space (published directly when it cannot be stored); disk_low: free space below gateway.evidence_min_free_mb (evidence pictures paused) or below evidence.disk.min_free_mb (the oldest evidence deleted); clock_step: the wall clock jumped (NTP, RTC-less boot); overloaded: the box analyses its cameras less often than their interval_s (event_id null; see behind)',
    }),
    event_id: Nullable(Ulid('the event it is about')),
    officer_id: Type.Optional(Nullable(Type.String(), 'overdue: the officer the matter is with')),
    tried: Type.Optional(Type.Array(Type.String(), { description: 'no_officer: officers already asked who declined or did not answer' })),
    behind: Type.Optional(
      Type.Object(
        {
          cameras: Type.Integer({ minimum: 0, description: 'cameras analysed less often than wanted' }),
          of: Type.Integer({ minimum: 0, description: 'cameras analysed on this box' }),
          interval_s: Type.Number({ description: 'the wanted interval (median over those cameras)' }),
          analysis_interval_s: Type.Number({ description: 'the achieved interval (median over those cameras)' }),
          analyses_per_s: Type.Number({ description: 'analyses done per second, all cameras' }),
          needed_per_s: Type.Number({ description: 'analyses per second the settings ask for' }),
        },
        { additionalProperties: false, description: 'overloaded: how far behind' },
      ),
    ),
    at: Time('when'),
    message: Type.String({ description: 'what a person should know, in words' }),
  },
  'something a person at the platform must act on',
  'Alert',
);
export type AlertMessage = Static<typeof AlertMessage>;
