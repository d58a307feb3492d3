/**
 * Builds each event's evidence set by listening to the lifecycle on the bus, never by
 * being called from it: a still at confirmation, at the start of the warning and at the
 * recheck; the clip around the confirmation from the camera's ring; the warning audio as
 * it went to the speaker. Every item is hashed when written and gets a blurred copy for
 * anything that leaves the box. When the event ends, the set is sealed: a signed manifest
 * that chains the previous one.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../context.ts';
import type { EventRecord, EventState } from '../events/types.ts';
import { TERMINAL } from '../events/types.ts';
import type { EventsRepo } from '../store/events.ts';
import type { EvidenceRepo, ItemKind } from '../store/evidence.ts';
import type { WarningOutcome } from '../alert/types.ts';
import type { Audio } from '../../devices/speakers/types.ts';
import type { EvidenceSettings } from '../settings/schema.ts';
import { iou, type Box } from '../zones/geometry.ts';
import type { BoxKey } from './keys.ts';
import type { ClipRing } from './ring.ts';
import { privacyRegions, redactJpeg, type Seen } from './redact.ts';
import { sealManifest, sha256, FORMAT, type Manifest } from './manifest.ts';
import { wavOf, writeDurableAsync } from './files.ts';

export interface RecorderDeps {
  ctx: Context;
  events: EventsRepo;
  repo: EvidenceRepo;
  key: BoxKey;
  settings: EvidenceSettings;
  dir: string;
  rings: Map<string, ClipRing>;
  /** The camera's full-resolution still (snapshot URI or main stream), null when it has none. */
  still: (camera: string) => Promise<Buffer | null>;
  /** What the manifest says about the rule that fired. */
  rule: (e: EventRecord) => Record<string, unknown>;
  /** A write failed for lack of space: make room now. */
  onNoSpace?: () => void;
}

const iso = (t: number) => new Date(t).toISOString();
const round = (b: Box) => b.map((v) => Math.round(v * 1e4) / 1e4);

export class EvidenceRecorder {
  private readonly d: RecorderDeps;
  private readonly seen = new Map<string, { at: number; list: Seen[] }>();
  private readonly pending = new Map<string, Set<Promise<unknown>>>();
  private readonly clipTimers = new Map<string, { timer: NodeJS.Timeout; fire: () => void }>();
  private readonly audio = new Map<string, Audio>();
  private readonly warnedStill = new Set<string>();
  /**
   * What waits for its event to be stored: a first warning starts while the event's
   * picture is still being written (events/service.ts), so the warning still is asked
   * for before the row exists; it is taken when the row comes.
   */
  private readonly unstored = new Map<string, (() => void)[]>();
  /** The blurred event picture under way: the HTTP link waits for it rather than serve the original. */
  private readonly pictures = new Map<string, Promise<void>>();
  private readonly onTransition = (t: { event: EventRecord; from: EventState | null; to: EventState; at: number }) => this.transition(t);
  private readonly onOutcome = (o: WarningOutcome) => this.outcome(o);
  private stopped = false;

  constructor(d: RecorderDeps) {
    this.d = d;
  }

  start(): void {
    this.d.ctx.bus.on('event.transition', this.onTransition);
    this.d.ctx.bus.on('warning.outcome', this.onOutcome);
    // Sets left unsealed by a stop or a crash: seal those whose event has ended.
    for (const id of this.d.repo.unsealed()) {
      const e = this.d.events.get(id);
      if (e && TERMINAL.has(e.state)) this.track(id, this.seal(id));
    }
  }

  /** The detector's latest boxes per camera: who else is in the picture. */
  saw(camera: string, at: number, list: readonly Seen[]): void {
    this.seen.set(camera, { at, list: list.map((s) => ({ label: s.label, box: s.box })) });
  }

  /** Hook from the warner: a warning is about to play on a speaker (the moment of the warning still). */
  playing(eventId: string | null, speaker: string, repeat: number, audio: Audio): void {
    if (!eventId || this.stopped) return;
    this.audio.set(`${eventId}/${speaker}/${repeat}`, audio);
    if (repeat === 0 && !this.warnedStill.has(eventId)) {
      this.warnedStill.add(eventId);
      this.whenStored(eventId, () => {
        const e = this.d.events.get(eventId);
        if (e) this.track(eventId, this.takeStill(e, 'warning'));
      });
    }
  }

  /** Runs `fn` now if the event is stored, else once it is (its confirmed transition). */
  private whenStored(eventId: string, fn: () => void): void {
    if (this.d.events.get(eventId)) return fn();
    const q = this.unstored.get(eventId);
    if (q) q.push(fn);
    else this.unstored.set(eventId, [fn]);
  }

  private transition(t: { event: EventRecord; from: EventState | null; to: EventState }): void {
    if (this.stopped) return;
    const e = t.event;
    if (t.from === null && t.to === 'confirmed') {
      this.track(e.id, this.takeStill(e, 'confirmation'));
      const pic = this.addPicture(e);
      this.pictures.set(
        e.id,
        pic.catch(() => undefined),
      );
      void pic.catch(() => undefined).finally(() => this.pictures.delete(e.id));
      this.track(e.id, pic);
      this.scheduleClip(e);
      const waiting = this.unstored.get(e.id) ?? [];
      this.unstored.delete(e.id);
      for (const fn of waiting) fn();
    }
    if (t.to === 'rechecked') this.track(e.id, this.takeStill(e, 'recheck'));
    if (TERMINAL.has(t.to)) void this.sealWhenDone(e.id);
  }

  private outcome(o: WarningOutcome): void {
    if (!o.eventId) return;
    const key = `${o.eventId}/${o.speaker}/${o.repeat ?? 0}`;
    const audio = this.audio.get(key);
    this.audio.delete(key);
    if (o.outcome !== 'played') return;
    if (!audio) {
      this.missing(o.eventId, 'audio', `warning ${o.speaker}`, 'the played audio was not handed to the evidence recorder');
      return;
    }
    const wav = audio.codec !== 'aac';
    const name = `warning-${o.speaker}-${o.repeat ?? 0}.${wav ? 'wav' : 'aac'}`;
    const data = wav ? wavOf(audio.codec, audio.sampleRate, audio.data) : audio.data;
    this.track(
      o.eventId,
      Promise.resolve().then(() =>
        this.store(o.eventId!, name, 'audio', o.repeat ? `warning repeat ${o.repeat}` : 'warning', o.at, data, `speaker ${o.speaker}`, {
          speaker: o.speaker,
          codec: audio.codec,
          sample_rate: audio.sampleRate,
          duration_ms: Math.round(audio.durationMs),
          text: o.text,
        }),
      ),
    );
  }

  private setDir(e: Pick<EventRecord, 'id' | 'confirmedAt'>): string {
    return join(this.d.dir, iso(e.confirmedAt).slice(0, 10), e.id);
  }

  /** A full-resolution still: the camera's own, else the newest picture in the ring. */
  private async takeStill(e: EventRecord, moment: string): Promise<void> {
    const at = this.d.ctx.clock.now();
    let jpeg: Buffer | null = await this.d.still(e.camera).catch(() => null);
    let source = 'camera still (snapshot URI or main stream)';
    if (!jpeg) {
      const ring = this.d.rings.get(e.camera);
      jpeg = ring ? await ring.latestStill().catch(() => null) : null;
      source = 'clip ring (newest key frame of the recorded stream)';
    }
    if (!jpeg) return this.missing(e.id, 'still', moment, 'the camera has no snapshot URI or main stream, and no clip ring picture');
    const { regions, subject } = this.privacy(e);
    const redacted = await redactJpeg(jpeg, regions, subject);
    await this.store(
      e.id,
      `${moment}.jpg`,
      'still',
      moment,
      at,
      jpeg,
      source,
      { blurred: regions.map(round), subject: round(subject) },
      redacted,
    );
  }

  /** The annotated picture the event message links to, with its blurred copy (served over HTTP). */
  private async addPicture(e: EventRecord): Promise<void> {
    if (!e.evidencePath || !existsSync(e.evidencePath)) return this.missing(e.id, 'picture', 'confirmation', 'the event has no picture');
    const jpeg = readFileSync(e.evidencePath);
    const { regions, subject } = this.privacy(e);
    const redacted = await redactJpeg(jpeg, regions, subject);
    await this.store(
      e.id,
      'picture.jpg',
      'picture',
      'confirmation',
      e.confirmedAt,
      jpeg,
      'event picture with zone, boxes and time',
      { blurred: regions.map(round), subject: round(subject) },
      redacted,
      e.evidencePath,
    );
  }

  /** Regions to blur, from the latest detections; the subject is what overlaps the event's box most. */
  private privacy(e: EventRecord): { regions: Box[]; subject: Box } {
    const seen = this.d.ctx.clock.now() - (this.seen.get(e.camera)?.at ?? 0) < 30_000 ? this.seen.get(e.camera)!.list : [];
    let subject: Box = e.box;
    let best = 0.3;
    for (const s of seen) {
      const o = iou(s.box, e.box);
      if (o > best) [best, subject] = [o, s.box];
    }
    return { regions: privacyRegions(seen, subject), subject };
  }

  private scheduleClip(e: EventRecord): void {
    const s = this.d.settings;
    const ring = this.d.rings.get(e.camera);
    if (!ring) {
      this.missing(e.id, 'clip', 'confirmation', s.ring.enabled ? 'no clip ring for this camera' : 'clip ring off (evidence.ring.enabled)');
      return;
    }
    const from = e.confirmedAt - s.clip.before_s * 1000;
    const to = e.confirmedAt + s.clip.after_s * 1000;
    // Wait until the segment holding `to` is complete.
    const due = to + s.ring.segment_s * 1000 + 1500 - this.d.ctx.clock.now();
    const done = new Promise<void>((ok) => {
      const fire = () => {
        this.clipTimers.delete(e.id);
        const out = join(this.setDir(e), 'clip.mp4');
        ring
          .cut(from, to, `${out}.part`)
          .then((span) => {
            const data = readFileSync(`${out}.part`);
            return this.store(e.id, 'clip.mp4', 'clip', 'confirmation', span.start, data, 'clip ring, copied (not re-encoded)', {
              start: iso(span.start),
              end: iso(span.end),
              asked: { from: iso(from), to: iso(to) },
              segments: span.segments,
            });
          })
          .catch((err: Error) => this.missing(e.id, 'clip', 'confirmation', err.message))
          .finally(() => {
            rmSync(`${out}.part`, { force: true });
            ok();
          });
      };
      this.clipTimers.set(e.id, { timer: setTimeout(fire, Math.max(0, due)), fire });
    });
    this.track(e.id, done);
  }

  private async store(
    eventId: string,
    name: string,
    kind: ItemKind,
    moment: string,
    at: number,
    data: Buffer,
    source: string,
    detail: Record<string, unknown>,
    redacted?: Buffer,
    existing?: string,
  ): Promise<void> {
    const dir = this.setDir({ id: eventId, confirmedAt: this.d.events.get(eventId)?.confirmedAt ?? at });
    const path = existing ?? join(dir, name);
    const redactedPath = redacted ? join(dir, name.replace(/(\.[a-z0-9]+)$/, '.redacted$1')) : null;
    try {
      if (!existing) await writeDurableAsync(path, data);
      if (redactedPath && redacted) await writeDurableAsync(redactedPath, redacted);
    } catch (e) {
      this.missing(eventId, kind, moment, `could not be written: ${(e as Error).message}`);
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') this.d.onNoSpace?.();
      return;
    }
    await this.d.repo.addItem({
      eventId,
      name,
      kind,
      moment,
      at,
      path,
      sha256: sha256(data),
      bytes: data.length,
      source,
      data: detail,
      redactedPath,
      redactedSha256: redacted ? sha256(redacted) : null,
      redactedBytes: redacted ? redacted.length : null,
    });
  }

  private missing(eventId: string, kind: string, moment: string, reason: string): void {
    this.d.ctx.log.warn({ event: eventId, kind, moment, reason }, 'evidence item missing');
    this.d.repo.addMissing({ eventId, kind, moment, reason, at: this.d.ctx.clock.now() });
  }

  private track(eventId: string, p: Promise<unknown>): void {
    const set = this.pending.get(eventId) ?? new Set();
    this.pending.set(eventId, set);
    const q = p.catch((err: Error) => this.d.ctx.log.error({ event: eventId, err }, 'evidence capture failed'));
    set.add(q);
    void q.finally(() => set.delete(q));
  }

  /** Waits for the set's captures still under way (the clip comes after_s later), then seals. */
  private async sealWhenDone(eventId: string): Promise<void> {
    while (this.pending.get(eventId)?.size) await Promise.allSettled([...this.pending.get(eventId)!]);
    this.pending.delete(eventId);
    if (this.d.repo.manifestOf(eventId)) return;
    try {
      await this.seal(eventId);
    } catch (err) {
      this.d.ctx.log.error({ event: eventId, err }, 'evidence manifest could not be sealed; retried at the next start');
    }
  }

  /** The signed manifest of a finished set, chained to the previous one. */
  async seal(eventId: string): Promise<void> {
    const e = this.d.events.get(eventId);
    if (!e || this.d.repo.manifestOf(eventId)) return;
    const { ctx, key } = this.d;
    // Moments this event never reached are said so, rather than silently absent.
    const have = new Set(this.d.repo.items(eventId).map((i) => i.name));
    const said = new Set(this.d.repo.missing(eventId).map((x) => `${x.kind}/${x.moment}`));
    // Why it never warned: the reason it escalated (no speaker, quiet hours, failed), else how it ended.
    const esc = this.d.events.transitions(eventId).find((t) => t.to === 'escalated');
    const why = (esc?.data.reason as string | undefined) ?? e.reason;
    const absent: [string, string, string][] = [
      ['warning.jpg', 'warning', `no warning played${why ? ` (${why})` : ''}`],
      ['recheck.jpg', 'recheck', 'the event had no recheck (escalated or ended before it)'],
    ];
    for (const [name, moment, reason] of absent)
      if (!have.has(name) && !said.has(`still/${moment}`))
        this.d.repo.addMissing({ eventId, kind: 'still', moment, reason, at: ctx.clock.now() });
    const m = this.d.repo.appendManifest(eventId, (prev, seq) => {
      const manifest: Manifest = {
        format: FORMAT,
        chain: { seq, prev_sha256: prev?.sha256 ?? null },
        gateway: { id: ctx.config.settings.gateway.id, version: ctx.version, key_sha256: key.fingerprint },
        event: {
          id: e.id,
          seq: e.seq,
          type: e.type,
          camera: e.camera,
          zone: e.zone,
          rule: this.d.rule(e),
          box: [...e.box],
          state: e.state,
          reason: e.reason,
          first_seen_at: iso(e.firstSeenAt),
          confirmed_at: iso(e.confirmedAt),
          closed_at: e.closedAt === null ? null : iso(e.closedAt),
        },
        items: this.d.repo.items(eventId).map((i) => ({
          name: i.name,
          kind: i.kind,
          moment: i.moment,
          at: iso(i.at),
          sha256: i.sha256,
          bytes: i.bytes,
          source: i.source,
          detail: i.data,
          ...(i.redactedSha256 && i.redactedBytes !== null ? { redacted: { sha256: i.redactedSha256, bytes: i.redactedBytes } } : {}),
        })),
        missing: this.d.repo.missing(eventId).map(({ kind, moment, reason }) => ({ kind, moment, reason })),
        sealed_at: iso(ctx.clock.now()),
      };
      const s = sealManifest(manifest, key.privateKey);
      return { sha256: s.sha256, prevSha256: manifest.chain.prev_sha256, body: s.body, signature: s.signature, sealedAt: ctx.clock.now() };
    });
    ctx.log.info({ event: eventId, manifest: m.seq, sha256: m.sha256.slice(0, 16) }, 'evidence sealed');
  }

  /** The blurred copy of the event's picture, for the HTTP link; null if there is none yet. */
  async publicPicture(eventId: string): Promise<{ path: string; sha256: string } | null> {
    await this.pictures.get(eventId);
    const p = this.d.repo.items(eventId).find((i) => i.name === 'picture.jpg');
    if (!p?.redactedPath || !p.redactedSha256 || p.redactedDeletedAt !== null) return null;
    return { path: p.redactedPath, sha256: p.redactedSha256 };
  }

  /** Waits until the event's set is sealed (tests, the export of a just-closed event). */
  async settled(eventId: string): Promise<void> {
    while (this.pending.get(eventId)?.size) await Promise.allSettled([...this.pending.get(eventId)!]);
  }

  /** Cuts the clips now that would be cut later, and waits (bounded) for captures under way. */
  async stop(waitMs = 15_000): Promise<void> {
    this.stopped = true;
    this.d.ctx.bus.off('event.transition', this.onTransition);
    this.d.ctx.bus.off('warning.outcome', this.onOutcome);
    this.unstored.clear();
    for (const { timer, fire } of [...this.clipTimers.values()]) {
      clearTimeout(timer);
      fire();
    }
    const all = [...this.pending.values()].flatMap((s) => [...s]);
    await Promise.race([Promise.allSettled(all), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }
}
