/**
 * The HTTP API's secret, and per-picture links. The secret opens everything; a link
 * published in an event or a dispatch carries only an HMAC of the event id and an expiry,
 * so it opens that one picture, for a week, and cannot be turned into the secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The configured token, or the one kept in `file` (made on first use). */
export function loadToken(configured: string | undefined, file: string): { token: string; generated: boolean } {
  if (configured) return { token: configured, generated: false };
  if (existsSync(file)) {
    const t = readFileSync(file, 'utf8').trim();
    if (t.length >= 16) return { token: t, generated: false };
  }
  const token = randomBytes(24).toString('base64url');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, generated: true };
}

/** How long a published picture link opens its picture; the API token opens it for good. */
export const PICTURE_LINK_TTL_MS = 7 * 86_400_000;

/** `{expiry, base 36 seconds}.{HMAC of the event id and the expiry}`: good for that picture until then. */
export function pictureToken(secret: string, eventId: string, now = Date.now(), ttlMs = PICTURE_LINK_TTL_MS): string {
  const exp = Math.ceil((now + ttlMs) / 1000).toString(36);
  return `${exp}.${mac(secret, eventId, exp)}`;
}

/** True when `given` is a picture token for this event that has not expired. */
export function pictureTokenValid(secret: string, eventId: string, given: string, now = Date.now()): boolean {
  const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{32})$/.exec(given);
  if (!m || Number.parseInt(m[1], 36) * 1000 < now) return false;
  return sameSecret(m[2], mac(secret, eventId, m[1]));
}

function mac(secret: string, eventId: string, exp: string): string {
  return createHmac('sha256', secret).update(`evidence:${eventId}:${exp}`).digest('base64url').slice(0, 32);
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
