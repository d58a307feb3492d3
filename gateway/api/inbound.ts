/**
 * The one way in for MQTT payloads (commands, officers' state and answers): parse the
 * JSON, check it against its TypeBox schema, or say why not. Validation errors are
 * reported up to MAX_DETAILS, then counted, so a garbage message gives a short reply.
 */
import type { TSchema } from '@sinclair/typebox';
import { compile, describe, dotted, pathOf } from '../validate.ts';

export const MAX_DETAILS = 5;

export type Inbound<T> =
  | { ok: true; msg: T; transaction: unknown }
  | { ok: false; code: 'bad_json' | 'invalid'; message: string; details?: { path: string; message: string }[]; transaction: unknown };

/** `empty` is what a zero-length payload stands for (a command without parameters: {}). */
export function readInbound<T>(schema: TSchema, payload: Buffer, o: { empty?: unknown; what?: string } = {}): Inbound<T> {
  let msg: unknown;
  try {
    msg = payload.length || o.empty === undefined ? JSON.parse(payload.toString('utf8')) : o.empty;
  } catch (e) {
    return { ok: false, code: 'bad_json', message: `payload is not JSON: ${(e as Error).message}`, transaction: null };
  }
  const transaction =
    msg && typeof msg === 'object' && !Array.isArray(msg) ? ((msg as { transaction?: unknown }).transaction ?? null) : null;
  const validate = compile<T>(schema);
  if (validate(msg)) return { ok: true, msg, transaction };
  const all = (validate.errors ?? []).map((e) => ({ path: dotted(pathOf(e)), message: describe(e) }));
  const details = all.slice(0, MAX_DETAILS);
  const more = all.length > details.length ? `; and ${all.length - details.length} more` : '';
  const message = details.map((d) => `${d.path || `(${o.what ?? 'payload'})`}: ${d.message}`).join('; ') + more;
  return { ok: false, code: 'invalid', message, details, transaction };
}
