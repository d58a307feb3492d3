/** Password hashes: scrypt from node:crypto, stored as "scrypt$N$r$p$salt$hash" (base64url). */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const LEN = 32;

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password.normalize('NFC'), salt, LEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export function isPasswordHash(s: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[\w-]+\$[\w-]+$/.test(s);
}

export function verifyPassword(password: string, stored: string): boolean {
  if (!isPasswordHash(stored)) return false;
  const [, n, r, p, salt, hash] = stored.split('$');
  const want = Buffer.from(hash, 'base64url');
  const got = scryptSync(password.normalize('NFC'), Buffer.from(salt, 'base64url'), want.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 256 * Number(n) * Number(r),
  });
  return timingSafeEqual(got, want);
}

/** A first password a person can type: 4 groups of 4 letters and digits without look-alikes. */
export function newPassword(): string {
  const abc = 'abcdefghjkmnpqrstuvwxyz23456789';
  const b = randomBytes(16);
  return [...b].map((x, i) => (i && i % 4 === 0 ? '-' : '') + abc[x % abc.length]).join('');
}
