/** The evidence tables: items of each event's set, what is missing, the manifest chain, the export audit. */
import type { Db } from './db.ts';
import { GroupCommit } from './group-commit.ts';

export type ItemKind = 'still' | 'picture' | 'clip' | 'audio';

export interface EvidenceItem {
  id: number;
  eventId: string;
  name: string;
  kind: ItemKind;
  /** confirmation, warning, recheck, ... */
  moment: string;
  at: number;
  path: string;
  sha256: string;
  bytes: number;
  source: string | null;
  data: Record<string, unknown>;
  redactedPath: string | null;
  redactedSha256: string | null;
  redactedBytes: number | null;
  deletedAt: number | null;
  deletedWhy: string | null;
  redactedDeletedAt: number | null;
}

export interface MissingItem {
  eventId: string;
  kind: string;
  moment: string;
  reason: string;
  at: number;
}

export interface StoredManifest {
  seq: number;
  eventId: string;
  sha256: string;
  prevSha256: string | null;
  body: Buffer;
  signature: Buffer;
  sealedAt: number;
}

interface ItemRow {
  id: number;
  event_id: string;
  name: string;
  kind: string;
  moment: string;
  at: number;
  path: string;
  sha256: string;
  bytes: number;
  source: string | null;
  data: string;
  redacted_path: string | null;
  redacted_sha256: string | null;
  redacted_bytes: number | null;
  deleted_at: number | null;
  deleted_why: string | null;
  redacted_deleted_at: number | null;
}

const item = (r: ItemRow): EvidenceItem => ({
  id: r.id,
  eventId: r.event_id,
  name: r.name,
  kind: r.kind as ItemKind,
  moment: r.moment,
  at: r.at,
  path: r.path,
  sha256: r.sha256,
  bytes: r.bytes,
  source: r.source,
  data: JSON.parse(r.data),
  redactedPath: r.redacted_path,
  redactedSha256: r.redacted_sha256,
  redactedBytes: r.redacted_bytes,
  deletedAt: r.deleted_at,
  deletedWhy: r.deleted_why,
  redactedDeletedAt: r.redacted_deleted_at,
});

const manifest = (r: {
  seq: number;
  event_id: string;
  sha256: string;
  prev_sha256: string | null;
  body: Buffer;
  signature: Buffer;
  sealed_at: number;
}): StoredManifest => ({
  seq: r.seq,
  eventId: r.event_id,
  sha256: r.sha256,
  prevSha256: r.prev_sha256,
  body: r.body,
  signature: r.signature,
  sealedAt: r.sealed_at,
});

export class EvidenceRepo {
  private readonly db: Db;
  private readonly group: GroupCommit;

  constructor(db: Db) {
    this.db = db;
    this.group = new GroupCommit(db);
  }

  /** Recorded with the other items of the same moment in one commit (a burst of events writes many). */
  addItem(i: Omit<EvidenceItem, 'id' | 'deletedAt' | 'deletedWhy' | 'redactedDeletedAt'>): Promise<void> {
    return this.group.run(() => this.insertItem(i));
  }

  private insertItem(i: Omit<EvidenceItem, 'id' | 'deletedAt' | 'deletedWhy' | 'redactedDeletedAt'>): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO evidence_items (event_id, name, kind, moment, at, path, sha256, bytes, source, data, redacted_path, redacted_sha256, redacted_bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        i.eventId,
        i.name,
        i.kind,
        i.moment,
        i.at,
        i.path,
        i.sha256,
        i.bytes,
        i.source,
        JSON.stringify(i.data),
        i.redactedPath,
        i.redactedSha256,
        i.redactedBytes,
      );
  }

  addMissing(m: MissingItem): void {
    this.db
      .prepare('INSERT INTO evidence_missing (event_id, kind, moment, reason, at) VALUES (?, ?, ?, ?, ?)')
      .run(m.eventId, m.kind, m.moment, m.reason, m.at);
  }

  items(eventId: string): EvidenceItem[] {
    return (this.db.prepare('SELECT * FROM evidence_items WHERE event_id = ? ORDER BY at, id').all(eventId) as ItemRow[]).map(item);
  }

  missing(eventId: string): MissingItem[] {
    return (
      this.db.prepare('SELECT * FROM evidence_missing WHERE event_id = ? ORDER BY at').all(eventId) as {
        event_id: string;
        kind: string;
        moment: string;
        reason: string;
        at: number;
      }[]
    ).map((r) => ({ eventId: r.event_id, kind: r.kind, moment: r.moment, reason: r.reason, at: r.at }));
  }

  /** Appends a manifest to the chain; `seal` builds it from the previous one (in the same transaction). */
  appendManifest(
    eventId: string,
    seal: (prev: StoredManifest | null, seq: number) => Omit<StoredManifest, 'seq' | 'eventId'>,
  ): StoredManifest {
    return this.db.transaction(() => {
      const prev = this.lastManifest();
      const seq = (prev?.seq ?? 0) + 1;
      const m = seal(prev, seq);
      this.db
        .prepare(
          'INSERT INTO evidence_manifests (seq, event_id, sha256, prev_sha256, body, signature, sealed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(seq, eventId, m.sha256, m.prevSha256, m.body, m.signature, m.sealedAt);
      return { ...m, seq, eventId };
    })();
  }

  lastManifest(): StoredManifest | null {
    const r = this.db.prepare('SELECT * FROM evidence_manifests ORDER BY seq DESC LIMIT 1').get();
    return r ? manifest(r as Parameters<typeof manifest>[0]) : null;
  }

  manifestOf(eventId: string): StoredManifest | null {
    const r = this.db.prepare('SELECT * FROM evidence_manifests WHERE event_id = ?').get(eventId);
    return r ? manifest(r as Parameters<typeof manifest>[0]) : null;
  }

  manifests(): StoredManifest[] {
    return (this.db.prepare('SELECT * FROM evidence_manifests ORDER BY seq').all() as Parameters<typeof manifest>[0][]).map(manifest);
  }

  /** Events with a set but no manifest yet (sealed when they close, or after a restart). */
  unsealed(): string[] {
    return (
      this.db
        .prepare(
          'SELECT DISTINCT i.event_id AS id FROM evidence_items i LEFT JOIN evidence_manifests m ON m.event_id = i.event_id WHERE m.seq IS NULL',
        )
        .all() as { id: string }[]
    ).map((r) => r.id);
  }

  markDeleted(id: number, at: number, why: string): void {
    this.db.prepare('UPDATE evidence_items SET deleted_at = ?, deleted_why = ? WHERE id = ? AND deleted_at IS NULL').run(at, why, id);
  }

  markRedactedDeleted(id: number, at: number): void {
    this.db.prepare('UPDATE evidence_items SET redacted_deleted_at = ? WHERE id = ? AND redacted_deleted_at IS NULL').run(at, id);
  }

  /**
   * Items still on disk of events closed before `closedBefore`, oldest event first (retention
   * and low disk). `kinds` limits it to some kinds.
   */
  liveOfClosed(closedBefore: number, kinds?: ItemKind[]): (EvidenceItem & { closedAt: number })[] {
    const kindSql = kinds ? `AND i.kind IN (${kinds.map(() => '?').join(',')})` : '';
    return (
      this.db
        .prepare(
          `SELECT i.*, e.closed_at AS closed_at FROM evidence_items i JOIN events e ON e.id = i.event_id
           WHERE (i.deleted_at IS NULL OR (i.redacted_path IS NOT NULL AND i.redacted_deleted_at IS NULL))
             AND e.closed_at IS NOT NULL AND e.closed_at < ? ${kindSql}
           ORDER BY e.closed_at, i.id`,
        )
        .all(closedBefore, ...(kinds ?? [])) as (ItemRow & { closed_at: number })[]
    ).map((r) => ({ ...item(r), closedAt: r.closed_at }));
  }

  /** Clips still on disk of open events, oldest first: the second thing to go when the disk is full. */
  liveClipsOfOpen(): EvidenceItem[] {
    return (
      this.db
        .prepare(
          `SELECT i.* FROM evidence_items i JOIN events e ON e.id = i.event_id
           WHERE i.deleted_at IS NULL AND i.kind = 'clip' AND e.closed_at IS NULL ORDER BY i.at`,
        )
        .all() as ItemRow[]
    ).map(item);
  }

  audit(a: {
    eventId: string | null;
    at: number;
    unredacted: boolean;
    via: string;
    actor?: string;
    reason?: string;
    target?: string;
  }): void {
    this.db
      .prepare('INSERT INTO evidence_exports (event_id, at, unredacted, via, actor, reason, target) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(a.eventId, a.at, a.unredacted ? 1 : 0, a.via, a.actor ?? null, a.reason ?? null, a.target ?? null);
  }

  exports(
    eventId: string,
  ): { at: number; unredacted: boolean; via: string; actor: string | null; reason: string | null; target: string | null }[] {
    return (
      this.db.prepare('SELECT * FROM evidence_exports WHERE event_id = ? ORDER BY id').all(eventId) as {
        at: number;
        unredacted: number;
        via: string;
        actor: string | null;
        reason: string | null;
        target: string | null;
      }[]
    ).map((r) => ({ ...r, unredacted: r.unredacted === 1 }));
  }
}
