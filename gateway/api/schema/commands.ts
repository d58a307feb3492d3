/**
 * Commands from the platform, on {gw}/commands/{name}, and the reply envelope
 * {status, data | error, transaction} (after zigbee2mqtt's bridge requests).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Enum, EventState, Gateway, Id, Nullable, Strict, Time, Transaction, ULID_PATTERN } from './common.ts';
import { StatsMessage } from './stats.ts';

const Common = {
  transaction: Type.Optional(Transaction),
  expires_at: Type.Optional(
    Type.String({
      format: 'date-time',
      description:
        'the command is refused (error "expired") if it arrives after this; under MQTT 3.1.1 the only way to give a command an expiry',
    }),
  ),
};
const EventId = Type.String({ pattern: ULID_PATTERN, description: 'the event id (ULID)' });
const Cmd = <T extends Record<string, TSchema>>(title: string, description: string, props: T) =>
  Type.Object({ ...props, ...Common }, { additionalProperties: false, title, description });

export const COMMANDS = {
  resolve: Cmd(
    'ResolveCommand',
    "close an open event as dealt with (by the platform's own means). Any officer it was dispatched to is told it is withdrawn",
    {
      event_id: EventId,
      reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    },
  ),
  cancel: Cmd(
    'CancelCommand',
    'cancel an open event (a false alarm, a duplicate). Any officer it was dispatched to is told it is withdrawn',
    {
      event_id: EventId,
      reason: Type.String({ minLength: 1, maxLength: 500, description: 'why; kept with the event' }),
    },
  ),
  reload_config: Cmd(
    'ReloadConfigCommand',
    're-read the settings file. Officers, dispatch and stats settings apply at once; the reply lists sections that need a restart',
    {},
  ),
  test_speaker: Cmd('TestSpeakerCommand', 'play a test message on one speaker and report how it went', {
    speaker: Id('speaker id'),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'default: 这是一条测试广播' })),
  }),
  shout: Cmd(
    'ShoutCommand',
    'play a message now on speakers, or on the speakers of cameras. Needs an expiry (MQTT 5 message expiry, or expires_at): a stale shout never plays',
    {
      text: Type.String({ minLength: 1, maxLength: 500 }),
      speakers: Type.Optional(Type.Array(Id('speaker id'), { minItems: 1, maxItems: 200 })),
      cameras: Type.Optional(Type.Array(Id('camera id'), { minItems: 1, maxItems: 200 })),
    },
  ),
  stats: Cmd('StatsCommand', 'statistics now, for all events or a window', {
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
  }),
} as const;
export type CommandName = keyof typeof COMMANDS;
export type CommandParams<N extends CommandName> = Static<(typeof COMMANDS)[N]>;

export const ERROR_CODES = [
  'bad_json',
  'too_large',
  'invalid',
  'unknown_command',
  'expired',
  'retained',
  'not_found',
  'conflict',
  'invalid_config',
  'speaker_failed',
  'failed',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const Outcome = Strict(
  {
    speaker: Id('speaker id'),
    outcome: Enum(['played', 'failed', 'skipped'] as const),
    code: Nullable(Type.String()),
    reason: Nullable(Type.String()),
    duration_s: Type.Number({ minimum: 0 }),
  },
  'how playing went on one speaker',
);

const EventChange = Strict(
  { event_id: Type.String({ pattern: ULID_PATTERN }), from: EventState, to: EventState },
  "the event's transition",
);

export const REPLY_DATA = {
  resolve: EventChange,
  cancel: EventChange,
  reload_config: Strict(
    {
      changed: Type.Array(Type.String(), { description: 'settings sections that differ from the running ones' }),
      applied: Type.Array(Type.String(), { description: 'sections now in effect' }),
      restart_required: Type.Array(Type.String(), { description: 'sections that take effect after a restart of the gateway' }),
    },
    'what the reload did',
  ),
  test_speaker: Outcome,
  shout: Strict({ outcomes: Type.Array(Outcome) }, 'one outcome per speaker'),
  stats: StatsMessage,
} as const;

/** The data of the reply an officer's app gets under MQTT 5 (with a response topic) to its answer. */
export const OfficerAnswerData = Strict(
  {
    dispatch_id: Type.String({ pattern: ULID_PATTERN }),
    state: Enum(
      ['offered', 'accepted', 'arrived', 'closed', 'declined', 'timed_out', 'withdrawn'] as const,
      "the dispatch's state after the answer",
    ),
    changed: Type.Boolean({ description: 'false when the answer repeated one already received' }),
  },
  'what the answer did',
);

export const ReplyError = Strict(
  {
    code: Enum(
      ERROR_CODES,
      "bad_json: not JSON; invalid: fails the command's schema; unknown_command; expired: arrived after expires_at; retained: a retained command is never run; not_found: no such event or speaker; conflict: e.g. the event is already closed; invalid_config: the settings file has errors; speaker_failed; failed: the gateway could not do it",
    ),
    message: Type.String({ description: 'in words' }),
    details: Type.Optional(Type.Array(Strict({ path: Type.String(), message: Type.String() }, 'one problem'))),
  },
  'why the command was refused or failed',
);

/** The reply envelope of one command, with its data schema. */
export const Reply = (name: string, data: TSchema) =>
  Strict(
    {
      status: Enum(['ok', 'error'] as const),
      command: Type.String({ description: 'the command name as received' }),
      gateway: Gateway,
      at: Time('when the reply was made'),
      transaction: Nullable(Transaction, "the request's transaction, or null"),
      data: Type.Optional(data),
      error: Type.Optional(ReplyError),
    },
    `the reply to ${name}: status "ok" with data, or "error" with error. Under MQTT 5 it goes to the request's response topic with its correlation data; otherwise to {gw}/replies/${name}`,
    `${name
      .split('_')
      .map((w) => w[0].toUpperCase() + w.slice(1))
      .join('')}Reply`,
  );

export type ReplyEnvelope = {
  status: 'ok' | 'error';
  command: string;
  gateway: string;
  at: string;
  transaction: string | number | null;
  data?: unknown;
  error?: { code: ErrorCode; message: string; details?: { path: string; message: string }[] };
};
export type ReplyData = { [N in keyof typeof REPLY_DATA]: Static<(typeof REPLY_DATA)[N]> };
