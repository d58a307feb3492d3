/** The audit table: one row per console write or refused attempt (migration 005). */
import type { Db } from './db.ts';

export interface AuditEntry {
  at: number;
  user: string;
  role: string | null;
  action: string;
  target: string | null;
  /** ok, refused (not allowed, bad input, locked out) or failed (allowed, but it did not work). */
  outcome: 'ok' | 'refused' | 'failed';
  detail: Record<string, unknown>;
  address: string | null;
}

export class AuditRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      insert: db.prepare(`INSERT INTO audit (at, user, role, action, target, outcome, detail, address)
        VALUES (@at, @user, @role, @action, @target, @outcome, @detail, @address)`),
      recent: db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?'),
    };
  }

  add(e: AuditEntry): void {
    this.q.insert.run({ ...e, detail: JSON.stringify(e.detail) });
  }

  recent(limit = 200): (AuditEntry & { id: number })[] {
    return (this.q.recent.all(limit) as (Omit<AuditEntry, 'detail'> & { id: number; detail: string })[]).map((r) => ({
      ...r,
      detail: JSON.parse(r.detail),
    }));
  }
}
