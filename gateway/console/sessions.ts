/**
 * Logins and sessions. A session is a random id in an HttpOnly, SameSite=Strict cookie,
 * with its own CSRF token the page sends back in a header on every write. Wrong passwords
 * are counted per user name: after `maxFailures` in a row the name is locked out for
 * `lockoutMs`, whatever password comes next (also for names that do not exist, so a
 * lock-out does not tell which names are real).
 */
import { randomBytes } from 'node:crypto';
import { verifyPassword } from './passwords.ts';
import type { ConsoleUser, Role } from './users.ts';

export interface Session {
  id: string;
  csrf: string;
  user: string;
  role: Role;
  expiresAt: number;
}

export type LoginResult = { ok: true; session: Session } | { ok: false; why: 'wrong' | 'locked'; retryAfterS?: number };

export class Sessions {
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, { count: number; lockedUntil: number }>();
  private users: Map<string, ConsoleUser>;
  private readonly o: { maxFailures: number; lockoutMs: number; ttlMs: number; now: () => number };

  constructor(users: ConsoleUser[], o: { maxFailures: number; lockoutMs: number; ttlMs: number; now: () => number }) {
    this.users = new Map(users.map((u) => [u.name, u]));
    this.o = o;
  }

  login(name: string, password: string): LoginResult {
    const now = this.o.now();
    const f = this.failures.get(name);
    if (f && f.lockedUntil > now) return { ok: false, why: 'locked', retryAfterS: Math.ceil((f.lockedUntil - now) / 1000) };
    const u = this.users.get(name);
    if (!u || !verifyPassword(password, u.password)) {
      const count = (f && f.lockedUntil <= now && f.lockedUntil !== 0 ? 0 : (f?.count ?? 0)) + 1;
      const locked = count >= this.o.maxFailures;
      this.failures.set(name, { count: locked ? 0 : count, lockedUntil: locked ? now + this.o.lockoutMs : 0 });
      return locked ? { ok: false, why: 'locked', retryAfterS: Math.ceil(this.o.lockoutMs / 1000) } : { ok: false, why: 'wrong' };
    }
    this.failures.delete(name);
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(24).toString('base64url'),
      user: u.name,
      role: u.role,
      expiresAt: now + this.o.ttlMs,
    };
    this.sessions.set(session.id, session);
    return { ok: true, session };
  }

  /** The live session for a cookie value; each use extends it. */
  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    const now = this.o.now();
    if (!s) return null;
    if (s.expiresAt <= now) {
      this.sessions.delete(id);
      return null;
    }
    s.expiresAt = now + this.o.ttlMs;
    return s;
  }

  logout(id: string): void {
    this.sessions.delete(id);
  }
}
