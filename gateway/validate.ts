/** One ajv instance for every schema the gateway checks (settings, manifests, MQTT payloads). */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { TSchema } from '@sinclair/typebox';

const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv;

export const ajv = addFormats(new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false, verbose: true }));

/**
 * For settings only: values from the environment arrive as text (`port: ${MQTT_PORT}`),
 * so "1884" must count as a number where the schema wants one, and 1234 as a string
 * where it wants a password.
 */
export const ajvCoercing = addFormats(new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: true, verbose: true }));

const cache = new WeakMap<object, ValidateFunction>();
const coercingCache = new WeakMap<object, ValidateFunction>();

export function compile<T>(schema: TSchema, coerce = false): ValidateFunction<T> {
  const c = coerce ? coercingCache : cache;
  let v = c.get(schema);
  if (!v) {
    v = (coerce ? ajvCoercing : ajv).compile(schema);
    c.set(schema, v);
  }
  return v as ValidateFunction<T>;
}

/** "a.b[0].c" from an ajv instance path "/a/b/0/c". */
export function dotted(path: (string | number)[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' || /^\d+$/.test(String(p)) ? `${s}[${p}]` : s ? `${s}.${p}` : String(p)), '');
}

export function pathOf(e: ErrorObject): (string | number)[] {
  const parts = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const out: (string | number)[] = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  if (e.keyword === 'additionalProperties') out.push((e.params as { additionalProperty: string }).additionalProperty);
  if (e.keyword === 'required') out.push((e.params as { missingProperty: string }).missingProperty);
  return out;
}

export function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties':
      return 'unknown key';
    case 'required':
      return 'is required';
    case 'enum':
      return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    default:
      return e.message ?? e.keyword;
  }
}
