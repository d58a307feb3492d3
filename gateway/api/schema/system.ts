/** Status (birth and death), camera health, telemetry. */
import { Type, type Static } from '@sinclair/typebox';
import { Enum, Gateway, Id, Nullable, Strict, Time } from './common.ts';

export const StatusMessage = Strict({
  state: Enum(['online', 'offline'] as const, 'online: connected and working; offline: stopped, or gone (the last will)'),
  at: Type.Optional(Time('when it was set (absent in the last will, which the broker sends)')),
  reason: Type.Optional(Type.String({ description: 'offline: "stopped" (orderly) or "connection lost" (last will)' })),
  version: Type.String({ description: 'gateway software version' }),
  contract: Type.Optional(Type.String({ description: 'the MQTT contract version, "v1"' })),
}, 'retained status. online on every connect; offline when stopped; offline as the last will if the gateway vanishes (under MQTT 5 only after the will delay, so brief drops do not flap)', 'Status');
export type StatusMessage = Static<typeof StatusMessage>;

export const CameraHealthMessage = Strict({
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
}, 'retained health of one camera, on change and every 30 s', 'CameraHealth');

export const SpeakerHealthMessage = Type.Object({
  speaker: Id('speaker id'),
  state: Type.String({ description: 'online, offline, ...' }),
}, { title: 'SpeakerHealth', description: 'retained health of one speaker. Further keys are described by the speaker drivers' });

export const TelemetryMessage = Type.Object({
  gateway: Gateway,
  at: Time('when'),
  outbox: Type.Integer({ minimum: 0, description: 'messages waiting to be sent' }),
  rss_mb: Type.Number({ description: 'memory in use' }),
  detectors: Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }), { description: 'per model: frames, timings, drops' }),
}, { title: 'Telemetry', description: 'QoS 0, every minute; may be dropped when the outbox is full. Further keys may be added' });
export type TelemetryMessage = Static<typeof TelemetryMessage>;
