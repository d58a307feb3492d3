/**
 * The outbox table: northbound messages wait here until delivered. Priorities: 0 for
 * dispatches and escalations, 1 for events, 2 for health and the rest, 3 for telemetry.
 * Messages that share an order key (an event id) leave strictly in the order written.
 */
import type { Db } from './db.ts';

export const PRIORITY = { dispatch: 0, event: 1, status: 2, telemetry: 3 } as const;

export interface OutboxMessage {
  id: number;
  msgId: string;
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  priority: number;
  orderKey: string | null;
  createdAt: number;
  /** Wall time as the uplink reckons it (a steady clock: see Uplink), null: never. */
  expiresAt: number | null;
  attempts: number;
}

export interface NewMessage {
  msgId: string;
  topic: string;
  payload: Buffer | string;
  qos: 0 | 1;
  retain?: boolean;
  priority: number;
  orderKey?: string | null;
  expiresAt?: number | null;
}

interface Row {
  id: number;
  msg_id: string;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  priority: number;
  order_key: string | null;
  created_at: number;
  expires_at: number | null;
  attempts: number;
}

export class OutboxRepo {
  private readonly q;
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
    this.q = {
      add: db.prepare(`INSERT OR IGNORE INTO outbox (msg_id, topic, payload, qos, retain, priority, order_key, created_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      // The head of each order key only: a later message waits for its predecessors.
      next: db.prepare(`SELECT * FROM outbox o WHERE (o.order_key IS NULL OR NOT EXISTS
          (SELECT 1 FROM outbox p WHERE p.order_key = o.order_key AND p.id < o.id))
        ORDER BY priority, id LIMIT ?`),
      done: db.prepare('DELETE FROM outbox WHERE id = ?'),
      attempt: db.prepare('UPDATE outbox SET attempts = attempts + 1 WHERE id = ?'),
      expire: db.prepare('DELETE FROM outbox WHERE expires_at IS NOT NULL AND expires_at < ?'),
      count: db.prepare('SELECT count(*) AS n, coalesce(sum(length(payload)), 0) AS bytes FROM outbox'),
      dropTelemetry: db.prepare(`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE priority >= ? ORDER BY id LIMIT ?)`),
    };
  }

  add(m: NewMessage, now: number): void {
    const payload = typeof m.payload === 'string' ? Buffer.from(m.payload) : m.payload;
    this.q.add.run(m.msgId, m.topic, payload, m.qos, m.retain ? 1 : 0, m.priority, m.orderKey ?? null, now, m.expiresAt ?? null);
  }

  /** Up to `limit` sendable messages, best first, skipping ids already in flight. */
  next(limit: number, inFlight: ReadonlySet<number>): OutboxMessage[] {
    const rows = this.q.next.all(limit + inFlight.size) as Row[];
    return rows
      .filter((r) => !inFlight.has(r.id))
      .slice(0, limit)
      .map((r) => ({
        id: r.id,
        msgId: r.msg_id,
        topic: r.topic,
        payload: r.payload,
        qos: r.qos as 0 | 1,
        retain: r.retain === 1,
        priority: r.priority,
        orderKey: r.order_key,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        attempts: r.attempts,
      }));
  }

  /** In one transaction: one fsync for a burst of acknowledgements, not one each. */
  delivered(ids: readonly number[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.q.done.run(id);
    })();
  }

  attempted(ids: readonly number[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.q.attempt.run(id);
    })();
  }

  /**
   * Removes the waiting messages on `topic` for `orderKey` whose payload has the given
   * fields (a stale copy that a newer message replaces). Returns the removed rows' ids.
   */
  unsend(topic: string, orderKey: string | null, fields: Record<string, string>): number[] {
    const keys = Object.keys(fields);
    if (keys.some((k) => !/^\w+$/.test(k))) throw new Error(`bad payload field name in ${keys.join(', ')}`);
    // A rare path (an outage during dispatch): prepared when needed.
    const where = keys.map((k) => ` AND json_extract(CAST(payload AS TEXT), '$.${k}') = ?`).join('');
    const rows = this.db
      .prepare(`DELETE FROM outbox WHERE topic = ? AND order_key IS ?${where} RETURNING id`)
      .all(topic, orderKey, ...keys.map((k) => fields[k]));
    return (rows as { id: number }[]).map((r) => r.id);
  }

  /** Drops expired messages, then the oldest telemetry beyond the cap. Only telemetry is ever dropped for size. */
  prune(now: number, maxMessages: number): number {
    let dropped = this.q.expire.run(now).changes;
    const { n } = this.q.count.get() as { n: number };
    if (n > maxMessages) dropped += this.q.dropTelemetry.run(PRIORITY.telemetry, n - maxMessages).changes;
    return dropped;
  }

  size(): { messages: number; bytes: number } {
    const r = this.q.count.get() as { n: number; bytes: number };
    return { messages: r.n, bytes: r.bytes };
  }
}
