/**
 * Building blocks of the MQTT contract's JSON Schemas. The payload schemas in this folder
 * are the single source: the payload builders are typed by them (gateway/api/payloads.ts),
 * incoming messages are validated against them, and docs/asyncapi.yaml is generated from
 * them (scripts/asyncapi.ts).
 */
import { Type, type TSchema, type TProperties } from '@sinclair/typebox';
import { EVENT_STATES } from '../../core/event.ts';
import { VIOLATION_TYPES } from '../../rules/catalogue.ts';

export const ULID_PATTERN = '^[0-9A-HJKMNP-TV-Z]{26}$';

/** An enum as one JSON Schema `enum`, typed as the union of its values. */
export function Enum<const T extends readonly string[]>(values: T, description?: string) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });
}

export const Nullable = <T extends TSchema>(t: T, description?: string) => Type.Union([t, Type.Null()], description ? { description } : {});

/** An object that allows no undocumented keys: what the gateway sends is exactly this. */
export const Strict = <T extends TProperties>(props: T, description: string, title?: string) =>
  Type.Object(props, { additionalProperties: false, description, ...(title ? { title } : {}) });

export const Time = (description: string) => Type.String({ format: 'date-time', description: `${description} (ISO 8601, UTC)` });
export const Ulid = (description: string) =>
  Type.String({ pattern: ULID_PATTERN, description: `${description} (ULID: 26 characters, sortable by time)` });
export const Id = (description: string) => Type.String({ minLength: 1, maxLength: 64, description });

export const MsgId = Ulid(
  'unique id of this message. A message re-sent after a reconnect or a restart has the same msg_id: de-duplicate by it',
);
export const Gateway = Id('the gateway (edge box) that sent this: gateway.id in its settings');
export const ViolationType = Enum(VIOLATION_TYPES, 'kind of matter, one of the 12 types of the catalogue');
export const EventState = Enum(EVENT_STATES, 'lifecycle state of an event');
export const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the JPEG file, lower-case hex' });
export const Transaction = Type.Union([Type.String({ maxLength: 128 }), Type.Integer()], {
  description:
    'any id the sender chooses; echoed in the reply, and a repeated transaction gets the first reply again instead of running twice',
});
export const Location = Type.Object(
  { lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) },
  { additionalProperties: false, description: 'WGS-84 position' },
);
