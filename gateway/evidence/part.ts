/**
 * The evidence part as the controller starts it: the box's key, one clip ring per
 * camera, the recorder on the bus, retention on a timer. It touches the lifecycle only
 * through the bus and two hooks (the warner's audio, the detector's boxes).
 */
import { join } from 'node:path';
import type { Context } from '../context.ts';
import type { EventsRepo } from '../store/events.ts';
import { EvidenceRepo } from '../store/evidence.ts';
import type { EventRecord } from '../events/types.ts';
import { resolveSource } from '../capture/source.ts';
import { chooseDecoder } from '../capture/decoder.ts';
import { loadOrCreateKey, type BoxKey } from './keys.ts';
import { ClipRing } from './ring.ts';
import { EvidenceRecorder } from './recorder.ts';
import { Retention } from './retention.ts';
import { exportEvent, type ExportRequest } from './export.ts';

export class EvidencePart {
  readonly key: BoxKey;
  readonly repo: EvidenceRepo;
  readonly recorder: EvidenceRecorder;
  readonly retention: Retention;
  readonly rings = new Map<string, ClipRing>();
  private readonly ctx: Context;
  private readonly events: EventsRepo;
  private stopped = false;

  constructor(o: {
    ctx: Context;
    events: EventsRepo;
    still: (camera: string) => Promise<Buffer | null>;
    rule: (e: EventRecord) => Record<string, unknown>;
  }) {
    const { ctx } = o;
    const s = ctx.config.settings.evidence;
    this.ctx = ctx;
    this.events = o.events;
    this.key = loadOrCreateKey(ctx.dataDir);
    this.repo = new EvidenceRepo(ctx.db);
    const dir = join(ctx.dataDir, 'evidence');
    this.retention = new Retention(ctx, this.repo, s, ctx.dataDir);
    this.recorder = new EvidenceRecorder({
      ctx,
      events: o.events,
      repo: this.repo,
      key: this.key,
      settings: s,
      dir: join(dir, 'sets'),
      rings: this.rings,
      still: o.still,
      rule: o.rule,
      onNoSpace: () => this.retention.sweep(),
    });
  }

  start(): void {
    const { ctx } = this;
    const s = ctx.config.settings.evidence;
    this.recorder.start();
    this.retention.start();
    if (!s.ring.enabled) return;
    for (const cam of ctx.config.settings.cameras) {
      if (!cam.enabled) continue;
      // The ring is a camera's own process, or written by its in-process reader when that
      // reads the same stream; an ONVIF camera is asked for its main stream.
      void Promise.all([resolveSource(cam, ctx.config.resolvePath), chooseDecoder(cam)])
        .then(([src, decoder]) => {
          if (this.stopped) return;
          const ring = new ClipRing({
            camera: cam.id,
            url: src.main ?? src.analytics,
            username: cam.username,
            password: cam.password,
            transport: cam.transport,
            dir: join(ctx.dataDir, 'evidence', 'ring', cam.id),
            segmentS: s.ring.segment_s,
            keepS: s.ring.keep_s,
            // The ring binds its own part and camera.
            log: ctx.log,
            fed: decoder === 'node-av' && !src.main,
          });
          this.rings.set(cam.id, ring);
          ring.start();
        })
        .catch((err: Error) =>
          ctx.log
            .child({ part: 'evidence', camera: cam.id })
            .warn({ err }, 'clip ring not started: the camera did not answer; events get no clip'),
        );
    }
  }

  publicPicture(eventId: string): Promise<{ path: string; sha256: string } | null> {
    return this.recorder.publicPicture(eventId);
  }

  /** The event's archive (blurred unless `unredacted`), as the CLI and the HTTP API give it. */
  archive(eventId: string, r: Omit<ExportRequest, 'at'>): Buffer {
    return exportEvent(this.repo, this.events, this.key.publicPem, eventId, { ...r, at: this.ctx.clock.now() });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.recorder.stop();
    this.retention.stop();
    await Promise.all([...this.rings.values()].map((r) => r.stop()));
  }
}
