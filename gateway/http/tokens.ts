/**
 * The HTTP API's secret, and per-picture links. The secret opens everything; a link
 * published in an event or a dispatch carries only an HMAC of the event id, so it opens
 * that one picture and cannot be turned into the secret.
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

export function pictureToken(secret: string, eventId: string): string {
  return createHmac('sha256', secret).update(`evidence:${eventId}`).digest('base64url').slice(0, 32);
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
