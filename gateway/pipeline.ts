/**
 * One camera's path through the stages: capture → static change (model-free, in place)
 * → every model's shared detector queue → per-frame join → tracker → rules → events.
 * Frames arrive already scaled; a verdict copies the frame once for its evidence.
 * Detector results come straight back here (this pipeline is the sink its frames are
 * pushed with), never up through the controller.
 */
import type { CameraSettings } from './settings/schema.ts';
import type { Context } from './context.ts';
import { CameraCapture, type Frame } from './capture/camera.ts';
import type { CameraHealth } from './capture/health.ts';
import { Tracker } from './track/tracker.ts';
import { RuleEngine, type Presence } from './rules/engine.ts';
import type { ZoneRule } from './rules/zone-rules.ts';
import type { DetectQueue, FrameSink } from './detect/queue.ts';
import type { Detection } from './detect/types.ts';
import { FrameJoin, shareFrame } from './detect/join.ts';
import { StaticChangeDetector, type StaticDetection } from './detect/static/detector.ts';
import { staticSettings, staticZones } from './detect/camera.ts';
import type { EventService } from './events/service.ts';
import type { EventRecord } from './events/types.ts';
import type { CameraLoad } from './detect/overload.ts';
import { Steady } from './clock.ts';

export class CameraPipeline {
  readonly camera: CameraSettings;
  readonly capture: CameraCapture;
  private readonly tracker: Tracker;
  private engine: RuleEngine;
  private readonly ctx: Context;
  private readonly events: EventService;
  private readonly queues: DetectQueue[];
  private readonly join: FrameJoin;
  /** Null when no zone is watched for static change. */
  readonly staticChange: StaticChangeDetector | null;
  detectorError: string | null = null;
  /**
   * Live cameras' frames are stamped on monotonic time (the wall clock steps: NTP, a box
   * without an RTC at boot): dwell, track expiry and frame order are real durations. A
   * recording on the media clock keeps the video's own time. Verdicts and suppression
   * checks are turned back into wall-clock time, which records carry.
   */
  private readonly steady: Steady;
  /** Where this camera's detector queues send its results. */
  private readonly sink: FrameSink = {
    detected: (r) => this.join.result(r),
    lost: (f) => this.onLost(f),
    failed: (f, e) => {
      this.ctx.log.error({ camera: this.camera.id, err: e }, 'detection failed');
      this.onLost(f);
    },
  };

  constructor(o: {
    ctx: Context;
    camera: CameraSettings;
    rules: ZoneRule[];
    events: EventService;
    onHealth: (h: CameraHealth) => void;
    /** The camera's models' queues (none: static change only, or every model failed). */
    queues: DetectQueue[];
    input: { width: number; height: number; fit: 'fit' | 'stretch' };
    /** Seen once per joined frame: what the tracker is given (tests, the console). */
    onDetections?: (frame: Frame, detections: readonly Detection[]) => void;
  }) {
    const { ctx, camera } = o;
    this.ctx = ctx;
    this.steady = new Steady(ctx.clock);
    this.camera = camera;
    this.events = o.events;
    const s = ctx.config.settings;
    this.tracker = new Tracker({
      maxMissedS: s.tracking.max_missed_s,
      stationaryRatio: s.tracking.stationary_ratio,
      intervalS: camera.interval_s,
    });
    this.engine = new RuleEngine(
      o.rules,
      (r, box, ts) => this.events.isSuppressed(r, box, this.toWall(ts)),
      () => this.tracker.lifetimeMs(),
      (ts) => this.toWall(ts),
    );
    this.queues = o.queues;
    const zones = camera.static_change ? staticZones(camera) : [];
    this.staticChange = zones.length ? new StaticChangeDetector(zones, staticSettings(camera)) : null;
    const onDetections = o.onDetections;
    this.join = new FrameJoin({
      models: this.queues.length,
      ignoreForStatic: new Set(camera.static_change?.ignore_classes ?? []),
      deliver: (frame, dets) => {
        onDetections?.(frame, dets);
        this.track(frame, dets);
      },
      dropped: () => this.capture.countDrop(),
    });
    this.capture = new CameraCapture({
      camera,
      width: o.input.width,
      height: o.input.height,
      fit: o.input.fit,
      log: ctx.log,
      resolvePath: ctx.config.resolvePath,
      onHealth: (h) => o.onHealth(this.withAnalysis(h)),
      onFrame: (f: Frame) => this.onFrame(f),
    });
  }

  private onFrame(f: Frame): void {
    if (!this.capture.mediaClock) f.ts = this.steady.now();
    let statics: StaticDetection[] = [];
    try {
      if (this.staticChange) statics = this.staticChange.process(f, f.ts);
    } catch (e) {
      this.ctx.log.error({ camera: this.camera.id, err: e }, 'static-change analysis failed');
    }
    if (!this.queues.length) {
      if (this.staticChange) this.join.start(f, statics);
      f.release();
      return;
    }
    const shared = shareFrame(f, this.queues.length);
    this.join.start(shared, statics);
    for (const q of this.queues) q.push(shared, this.sink);
  }

  /** A model dropped this camera's frame (it fell behind) or failed on it. */
  private onLost(frame: Frame): void {
    // The frame is lost for every model: take it back from the queues still holding it.
    if (this.join.lost(frame)) for (const q of this.queues) if (q.discard(frame)) this.join.lost(frame);
  }

  start(): void {
    this.capture.start();
  }

  stop(): Promise<void> {
    return this.capture.stop();
  }

  /** The capture's health with the interval this camera is actually analysed at. */
  health(): CameraHealth {
    return this.withAnalysis(this.capture.snapshot());
  }

  /** How often this camera is analysed, against how often it asks (the overload watch). */
  load(): CameraLoad {
    const ms = this.tracker.interval.medianMs();
    return {
      camera: this.camera.id,
      intervalS: this.camera.interval_s,
      analysisIntervalS: ms === null ? null : ms / 1000,
      lastAnalysisAt: this.tracker.interval.lastTs,
      live: !this.capture.mediaClock && this.capture.snapshot().state === 'online',
    };
  }

  private withAnalysis(h: CameraHealth): CameraHealth {
    const ms = this.tracker.interval.medianMs();
    return { ...h, analysisIntervalS: ms === null ? null : Math.round(ms / 100) / 10, lastAnalysisAt: this.tracker.interval.lastTs };
  }

  /** One frame's detections, every model's merged, in the shared vocabulary. */
  private track(frame: Frame, detections: Detection[]): void {
    this.staticChange?.modelsSaw(frame.ts, detections);
    const tracks = this.tracker.update(detections, frame.ts);
    const verdicts = this.engine.evaluate(tracks, frame.ts);
    if (!verdicts.length) return;
    // The frame buffer goes back to the pool after this call: evidence needs its own copy.
    const copy = { rgb: Buffer.from(frame.data), width: frame.width, height: frame.height, still: () => this.capture.still() };
    for (const v of verdicts) {
      this.events
        .confirm({ ...v, at: this.toWall(v.at), since: this.toWall(v.since) }, copy)
        .catch((e: Error) => this.ctx.log.error({ camera: this.camera.id, err: e }, 'could not record event'));
    }
  }

  /** New zones and rules from a reload: a fresh engine (what the old one was timing starts over). */
  setRules(rules: ZoneRule[]): void {
    const s = this.ctx.config.settings;
    this.engine = new RuleEngine(
      rules,
      (r, box, ts) => this.events.isSuppressed(r, box, this.toWall(ts)),
      s.tracking.max_missed_s,
      (ts) => this.toWall(ts),
    );
  }

  /** A frame time as the wall clock reads it now (media-clock time is kept as it is). */
  private toWall(ts: number): number {
    return this.capture.mediaClock ? ts : this.steady.toWall(ts);
  }

  presence(e: EventRecord): Presence {
    // Fresh means a few analyses old: on a slow box that is longer than interval_s says.
    const interval = Math.max(this.camera.interval_s * 1000, this.tracker.interval.medianMs() ?? 0);
    const now = this.capture.mediaClock ? this.ctx.clock.now() : this.steady.now();
    return this.engine.presence(e.type, e.zone, e.box, e.trackIds, now, Math.max(3 * interval, 10_000));
  }
}
