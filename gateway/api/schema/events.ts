/** Events, their lifecycle transitions and warning attempts. */
import { Type, type Static } from '@sinclair/typebox';
import { Enum, EventState, Gateway, Id, Location, MsgId, Nullable, Sha256, Strict, Time, Ulid, ViolationType } from './common.ts';

export const EventMessage = Strict(
  {
    msg_id: MsgId,
    gateway: Gateway,
    id: Ulid('the event id, used in every later message about it'),
    seq: Type.Integer({
      minimum: 1,
      description: 'per-gateway sequence number of events, 1, 2, 3, ... with no gaps: a gap means a missed event',
    }),
    type: ViolationType,
    type_zh: Type.String({ description: "the type's Chinese name, e.g. 违章停车" }),
    state: EventState,
    camera: Strict(
      {
        id: Id('camera id'),
        name: Type.String(),
        location: Location,
        place: Nullable(Type.String(), 'spoken place name'),
      },
      'the camera that saw it',
    ),
    zone: Strict({ id: Id('zone id'), name: Type.String() }, "the zone of the camera's view"),
    track_ids: Type.Array(Type.Integer(), { description: 'tracker ids of the things that made the event' }),
    classes: Type.Array(Type.String(), { description: 'detector classes seen, e.g. car' }),
    box: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), {
      minItems: 4,
      maxItems: 4,
      description: '[x1, y1, x2, y2], normalised to the frame (0,0 top-left)',
    }),
    first_seen_at: Time('when the condition started holding'),
    confirmed_at: Time('when it had held for the dwell time'),
    dwell_s: Type.Integer({ minimum: 0, description: 'seconds between first seen and confirmed' }),
    evidence: Nullable(
      Strict(
        {
          sha256: Sha256,
          url: Nullable(
            Type.String({ format: 'uri' }),
            "where to GET the picture from the gateway's HTTP API; the link carries a token for this picture only",
          ),
          content_type: Type.Literal('image/jpeg'),
        },
        'the evidence picture: the frame with the zone, the boxes and a time stamp',
      ),
      'null when the picture could not be written',
    ),
  },
  'a confirmed event. Sent once per event (QoS 1); later changes come on events/{event}/state',
  'Event',
);
export type EventMessage = Static<typeof EventMessage>;

export const TransitionNote = Type.Object({
  speakers: Type.Optional(Type.Array(Type.String(), { description: 'warned: speakers that played the warning' })),
  text: Type.Optional(Type.String({ description: 'warned: what was said' })),
  present: Type.Optional(Type.Boolean({ description: 'rechecked: whether the thing was still there' })),
  dispatch_id: Type.Optional(Ulid('dispatched and later: the dispatch')),
  distance_m: Type.Optional(Type.Integer({ minimum: 0, description: "dispatched: the officer's distance from the camera" })),
  tier: Type.Optional(Enum(['local', 'neighbour'] as const, 'dispatched: an officer of this town, or of a neighbouring town ("1+3")')),
  town: Type.Optional(Nullable(Type.String(), "dispatched: the officer's town")),
  attempt: Type.Optional(Type.Integer({ minimum: 1, description: 'dispatched: 1 for the first officer asked, 2 for the next, ...' })),
  by: Type.Optional(Enum(['officer', 'platform', 'gateway'] as const, 'closed or cancelled: who ended it')),
  note: Type.Optional(Type.String({ description: "closed: the officer's or the platform's note" })),
});
export type TransitionNote = Static<typeof TransitionNote>;

export const TransitionMessage = Type.Composite(
  [
    Type.Object({
      msg_id: MsgId,
      gateway: Gateway,
      event_id: Ulid('the event'),
      seq: Type.Integer({ minimum: 1, description: "the event's sequence number (as in its event message)" }),
      type: ViolationType,
      camera: Id('camera id'),
      from: Nullable(EventState, 'the state before; null for the first (confirmed)'),
      to: EventState,
      at: Time('when it changed'),
      reason: Nullable(Type.String(), 'why, in words: e.g. "still there after the grace period", "declined by 王队员: 正在处理其他事件"'),
      officer_id: Nullable(Type.String(), 'the officer the event is with, once dispatched'),
    }),
    TransitionNote,
  ],
  {
    additionalProperties: false,
    title: 'Transition',
    description:
      'one lifecycle transition of an event. Messages of one event arrive in order; each carries from and to so a missed one is visible',
  },
);
export type TransitionMessage = Static<typeof TransitionMessage>;

export const WarningMessage = Strict(
  {
    msg_id: MsgId,
    gateway: Gateway,
    event_id: Nullable(Ulid('the event'), 'null for a test or a shout from the platform'),
    speaker: Id('speaker id'),
    outcome: Enum(['played', 'failed', 'skipped'] as const, 'what happened'),
    code: Nullable(Type.String(), 'for failures: unreachable, rejected, auth, timeout, no_audio, quiet_hours, ...'),
    reason: Nullable(Type.String(), 'details in words'),
    text: Type.String({ description: 'the message' }),
    duration_s: Type.Number({ minimum: 0, description: 'length of the audio played' }),
    repeat: Type.Optional(Type.Integer({ minimum: 0, description: '0 for the first warning, 1.. for the firmer repeats' })),
    at: Time('when the attempt started'),
  },
  'one attempt to play a message on one speaker',
  'Warning',
);
export type WarningMessage = Static<typeof WarningMessage>;
