/**
 * Retention per class of evidence, and what goes when the disk runs low. Evidence is what
 * gives way: the database and the outbox must never be the ones to fail. Below
 * `disk.min_free_mb` free, the evidence of the oldest closed events goes first (whole
 * sets, oldest first), then the clips of open events, and an alert goes north. A deleted
 * file keeps its row and its hash in the signed manifest; exports say it was deleted.
 */
import { rmSync, statfsSync } from 'node:fs';
import { ulid } from 'ulid';
import type { Context } from '../context.ts';
import type { EvidenceItem, EvidenceRepo, ItemKind } from '../store/evidence.ts';
import type { EvidenceSettings } from '../settings/schema.ts';
import { PRIORITY } from '../store/outbox.ts';
import { delivery } from '../api/channels.ts';
import { alertPayload } from '../api/payloads.ts';

const DAY = 86_400_000;

export interface SweepResult {
  deletedFiles: number;
  freedBytes: number;
  freeBytes: number;
  low: boolean;
}

export class Retention {
  private readonly ctx: Context;
  private readonly repo: EvidenceRepo;
  private readonly s: EvidenceSettings;
  private readonly dir: string;
  private timer: NodeJS.Timeout | null = null;
  private low = false;

  constructor(ctx: Context, repo: EvidenceRepo, s: EvidenceSettings, dir: string) {
    this.ctx = ctx;
    this.repo = repo;
    this.s = s;
    this.dir = dir;
  }

  start(): void {
    this.timer = setInterval(() => this.sweep(), this.s.disk.check_s * 1000);
    this.timer.unref();
    this.sweep();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  freeBytes(): number {
    const st = statfsSync(this.dir);
    return st.bavail * st.bsize;
  }

  /** One pass: retention by age, then room on the disk. Never throws (it runs on a timer). */
  sweep(): SweepResult {
    const now = this.ctx.clock.now();
    const r = { deletedFiles: 0, freedBytes: 0, freeBytes: 0, low: false };
    try {
      const d = this.s.retention_days;
      const byAge: [ItemKind[], number, 'original' | 'redacted' | 'both', string][] = [
        [['still', 'picture'], d.unredacted, 'original', 'retention: unredacted originals'],
        [['clip'], d.clips, 'both', 'retention: clips'],
        [['audio'], d.audio, 'both', 'retention: audio'],
        [['still', 'picture'], d.stills, 'both', 'retention: stills'],
        [['still', 'picture', 'clip', 'audio'], d.closed_events, 'both', 'retention: closed events'],
      ];
      for (const [kinds, days, which, why] of byAge)
        for (const it of this.repo.liveOfClosed(now - days * DAY, kinds)) this.remove(it, which, why, now, r);
      r.freeBytes = this.freeBytes();
      const min = this.s.disk.min_free_mb * 1e6;
      if (r.freeBytes < min) {
        const before = r.freedBytes;
        // Whole sets of the oldest closed events first...
        for (const it of this.repo.liveOfClosed(now + 1)) {
          if (this.freeBytes() >= min) break;
          this.remove(it, 'both', 'low disk: oldest closed event', now, r);
        }
        // ...then clips of events still open, oldest first.
        for (const it of this.repo.liveClipsOfOpen()) {
          if (this.freeBytes() >= min) break;
          this.remove(it, 'both', 'low disk: clip of an open event', now, r);
        }
        r.freeBytes = this.freeBytes();
        r.low = r.freeBytes < min;
        // Once per episode: a disk that stays full after everything deletable went alerts once.
        if (!this.low) this.alert(now, r, r.freedBytes - before, min);
        this.low = r.low;
      } else this.low = false;
    } catch (err) {
      this.ctx.log.error({ err }, 'evidence retention sweep failed');
    }
    if (r.deletedFiles)
      this.ctx.log.info({ files: r.deletedFiles, freed_mb: Math.round(r.freedBytes / 1e5) / 10 }, 'evidence deleted (retention, disk)');
    return r;
  }

  private remove(it: EvidenceItem, which: 'original' | 'redacted' | 'both', why: string, now: number, r: SweepResult): void {
    if ((which === 'original' || which === 'both') && it.deletedAt === null) {
      this.unlink(it.path, it.bytes, r);
      this.repo.markDeleted(it.id, now, why);
    }
    if ((which === 'redacted' || which === 'both') && it.redactedPath && it.redactedDeletedAt === null) {
      this.unlink(it.redactedPath, it.redactedBytes ?? 0, r);
      this.repo.markRedactedDeleted(it.id, now);
    }
  }

  private unlink(path: string, bytes: number, r: SweepResult): void {
    rmSync(path, { force: true });
    r.deletedFiles++;
    r.freedBytes += bytes;
  }

  private alert(now: number, r: SweepResult, freed: number, min: number): void {
    const mb = (b: number) => Math.round(b / 1e6);
    const message = r.low
      ? `data disk nearly full: ${mb(r.freeBytes)} MB free (min ${mb(min)} MB) after deleting ${mb(freed)} MB of evidence; nothing more to delete: new evidence may be lost`
      : `data disk was low: deleted ${mb(freed)} MB of the oldest evidence; ${mb(r.freeBytes)} MB free now (min ${mb(min)} MB)`;
    this.ctx.log.warn({ free_mb: mb(r.freeBytes), freed_mb: mb(freed) }, message);
    const payload = alertPayload(this.ctx.config.settings.gateway.id, { kind: 'disk_low', event_id: null, message }, now);
    const msgId = ulid(now);
    payload.msg_id = msgId;
    this.ctx.uplink.enqueue({
      msgId,
      topic: this.ctx.topics.alerts(),
      payload: JSON.stringify(payload),
      ...delivery('alerts'),
      priority: PRIORITY.dispatch,
      orderKey: null,
    });
    this.ctx.uplink.flush();
  }
}
