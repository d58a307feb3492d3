/** Status (birth and death), camera health, telemetry. */
import { Type, type Static } from '@sinclair/typebox';
import { Enum, Gateway, Id, Nullable, Strict, Time } from './common.ts';

export const StatusMessage = Strict(
  {
    state: Enum(['online', 'offline'] as const, 'online: connected and working; offline: stopped, or gone (the last will)'),
    at: Type.Optional(Time('when it was set (absent in the last will, which the broker sends)')),
    reason: Type.Optional(Type.String({ description: 'offline: "stopped" (orderly) or "connection lost" (last will)' })),
    version: Type.String({ description: 'gateway software version' }),
    contract: Type.Optional(Type.String({ description: 'the MQTT contract version, "v1"' })),
  },
  'retained status. online on every connect; offline when stopped; offline as the last will if the gateway vanishes (under MQTT 5 only after the will delay, so brief drops do not flap)',
  'Status',
);
export type StatusMessage = Static<typeof StatusMessage>;

export const CameraHealthMessage = Strict(
  {
    gateway: Gateway,
    camera: Id('camera id'),
    state: Enum(['starting', 'online', 'reconnecting', 'offline', 'disabled'] as const),
    reason: Nullable(Type.String(), 'why it is not online, in words'),
    code: Nullable(Type.String(), 'unreachable, auth, timeout, not_found, unsupported, ...'),
    since: Time('in this state since'),
    last_frame_at: Nullable(Time('last frame analysed')),
    last_frame_age_s: Nullable(Type.Number({ minimum: 0 })),
    frames_per_minute: Type.Number({ minimum: 0, description: 'frames analysed in the last minute' }),
    restarts: Type.Integer({ minimum: 0, description: 'stream restarts since start' }),
    dropped: Type.Integer({ minimum: 0, description: 'frames skipped because the detector was behind' }),
    resolution: Nullable(Type.String({ pattern: '^\\d+x\\d+$' })),
    interval_s: Type.Number({ minimum: 0, description: "the wanted analysis interval (the camera's interval_s)" }),
    analysis_interval_s: Nullable(
      Type.Number({ minimum: 0 }),
      'the interval actually achieved: median seconds between analysed frames, recently (null before two analyses). Above interval_s the box is behind (see the overloaded alert)',
    ),
    still_skipped: Type.Integer({
      minimum: 0,
      description:
        'frames the still gate kept from inference since start: the picture inside the zones had not changed and nothing was on its way to a verdict (they count as analysed in analysis_interval_s)',
    }),
    still_undecoded: Type.Integer({
      minimum: 0,
      description:
        "of still_skipped, the frames never even decoded: the encoder's P-frames since the last decoded key frame said the picture had not changed (decoder node-av; always 0 on ffmpeg)",
    }),
  },
  'retained health of one camera, on change and every 30 s',
  'CameraHealth',
);

export const SpeakerHealthMessage = Strict(
  {
    gateway: Gateway,
    speaker: Id('speaker id'),
    name: Nullable(Type.String(), 'the name from the settings'),
    state: Enum(['unknown', 'online', 'failed'] as const, 'unknown until the first attempt or probe; failed after a failed one'),
    code: Nullable(Type.String(), 'for failures: unreachable, refused, auth, busy, unsupported, timeout, ...'),
    reason: Nullable(Type.String(), 'details in words'),
    since: Time('in this state since'),
    last_outcome: Nullable(Enum(['played', 'failed', 'probe_ok', 'probe_failed'] as const)),
    last_played_at: Nullable(Time('last warning played')),
    last_failed_at: Nullable(Time('last failure')),
    consecutive_failures: Type.Integer({ minimum: 0 }),
  },
  'retained health of one speaker, after every warning attempt and every probe',
  'SpeakerHealth',
);

export const TelemetryMessage = Type.Object(
  {
    gateway: Gateway,
    at: Time('when'),
    outbox: Type.Integer({ minimum: 0, description: 'messages waiting to be sent' }),
    rss_mb: Type.Number({ description: 'memory in use' }),
    detectors: Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }), {
      description:
        'per model: processed, dropped, errors, waiting, runs, meanBatch (frames per inference), preMs/inferMs/postMs/ipcMs (per frame), droppedByCamera',
    }),
    detectors_failed: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'models that are not running, with the reason (their cameras are marked "detector failed")',
      }),
    ),
  },
  { title: 'Telemetry', description: 'QoS 0, every minute; may be dropped when the outbox is full. Further keys may be added' },
);
export type TelemetryMessage = Static<typeof TelemetryMessage>;
