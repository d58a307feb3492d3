/**
 * One camera's path through the stages: capture → static change (model-free, in place)
 * → the still gate (a still scene with nothing pending skips inference) → every model's shared detector queue → per-frame join → tracker → rules → events.
 * Frames arrive already scaled; a verdict copies the frame once for its evidence.
 * Detector results come straight back here (this pipeline is the sink its frames are
 * pushed with), never up through the controller.
 */
import type { CameraSettings } from './settings/schema.ts';
import type { Context } from './context.ts';
import type { Logger } from './log.ts';
import { CameraCapture, type Frame } from './capture/camera.ts';
import type { CameraHealth } from './capture/health.ts';
import { Tracker, trackView, type TrackView } from './track/tracker.ts';
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
import { StillGate } from './detect/gate.ts';
import { MotionLevel } from './detect/motion.ts';
import type { Motion } from '../devices/ffmpeg/frames.ts';
import { Steady } from './clock.ts';
import type { SegmentTarget } from '../devices/ffmpeg/segments.ts';

/** A source's stamp older than this is not believed (a clock step while the frame was on its way). */
const MAX_AGE_MS = 5000;

export class CameraPipeline {
  /** Its settings; a reload may replace the zones. */
  camera: CameraSettings;
  readonly capture: CameraCapture;
  private readonly tracker: Tracker;
  private engine: RuleEngine;
  private readonly ctx: Context;
  /** Every line carries part and camera. */
  private readonly log: Logger;
  private readonly events: EventService;
  private readonly queues: DetectQueue[];
  private readonly join: FrameJoin;
  /** Null when no zone is watched for static change. */
  staticChange: StaticChangeDetector | null;
  detectorError: string | null = null;
  private readonly onTracks?: (ts: number, tracks: TrackView[]) => void;
  private gate: StillGate;
  /** Frames the still gate kept from inference, and of those, the ones never decoded. */
  private stillSkipped = 0;
  private quietSkipped = 0;
  /** What this camera's encoder spends on a still picture (node-av: before decoding). */
  private readonly motion = new MotionLevel();
  /** A frame skipped while the one it was compared with was in flight: held once that one is back. */
  private heldTs: number | null = null;
  /** When the pipeline first started (the overload watch judges a camera never analysed from it). */
  private startedAt: number | null = null;
  /** The dwell completion the last urgent frame was sent for. */
  private urgentDue = Number.NaN;
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
    failed: (f, err) => {
      this.log.error({ err }, 'detection failed');
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
    /** The live tracks after each analysed frame (the console draws them). */
    onTracks?: (ts: number, tracks: TrackView[]) => void;
    /** Where an in-process reader writes the camera's clip segments (none: the ring's own ffmpeg). */
    ring?: () => SegmentTarget | null;
  }) {
    const { ctx, camera } = o;
    this.ctx = ctx;
    this.steady = new Steady(ctx.clock);
    this.camera = camera;
    this.log = ctx.log.child({ part: 'pipeline', camera: camera.id });
    this.events = o.events;
    this.onTracks = o.onTracks;
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
    this.gate = this.newGate(o.rules);
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
      dropped: (f) => {
        this.capture.countDrop();
        this.gate.lost(f.ts);
        if (!this.gate.pending) this.heldTs = null;
      },
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
      onQuiet: (ts, m) => this.onQuiet(ts, m),
      ring: o.ring,
    });
  }

  private onFrame(f: Frame): void {
    if (!this.capture.mediaClock) f.ts = this.takenAt(f.ts);
    let statics: StaticDetection[] = [];
    try {
      if (this.staticChange) statics = this.staticChange.process(f, f.ts);
    } catch (err) {
      this.log.error({ err }, 'static-change analysis failed');
    }
    if (!this.queues.length) {
      if (this.staticChange) this.join.start(f, statics);
      f.release();
      return;
    }
    if (this.mayskip(f, statics.length > 0)) {
      this.skip(f.ts);
      f.release();
      return;
    }
    this.gate.sentNow(f.ts);
    const shared = shareFrame(f, this.queues.length);
    this.join.start(shared, statics);
    const urgent = this.mayComplete(f.ts);
    for (const q of this.queues) q.push(shared, this.sink, urgent);
  }

  /**
   * A frame's time on the steady clock: when its picture was taken (the source's wall
   * stamp), not when it got here. Decoding and a busy main thread are latency; counting
   * them would make the camera's interval and its dwell timers jitter with the box's load.
   */
  private takenAt(wall: number): number {
    const age = Math.min(Math.max(0, this.ctx.clock.now() - wall), MAX_AGE_MS);
    const ts = Math.max(this.steady.now() - age, this.lastTaken + 1);
    this.lastTaken = ts;
    return ts;
  }

  private lastTaken = -Infinity;

  /** One gate per zone layout: the cells the camera's zones cover (the zones of its rules). */
  private newGate(rules: readonly ZoneRule[]): StillGate {
    const zones = new Map(rules.map((r) => [r.zone, { polygon: r.polygon, mask: r.mask }]));
    return new StillGate({ zones: [...zones.values()], maxStillS: this.queues.length ? this.camera.still_max_s : 0 });
  }

  /**
   * A still picture (inside the zones, light fitted away), analysed recently enough, with
   * no verdict due on this frame (a candidate's dwell still running: a still picture can
   * only say it is still there, and the tracker holds it), no static-change region, and no
   * repeat or recheck about to ask whether a matter is still there: inference would tell
   * nothing new. Frigate treats stationary objects the same way.
   */
  private mayskip(f: Frame, statics: boolean): boolean {
    if (!this.gate.enabled) return false;
    const look = this.gate.check(f, f.ts);
    if (f.motion) this.motion.learn(f.motion, look.still);
    if (!look.still || look.stale || statics) return false;
    return this.mayHold(f.ts);
  }

  /**
   * Before a key frame is even decoded: the encoder spent as little since the last one as it
   * does on this camera's still pictures, and a still picture would be skipped now (the
   * same rules as mayskip). Then it is not decoded at all. A camera watching for static
   * change needs every picture.
   */
  private onQuiet(ts: number, m: Motion): boolean {
    if (!this.gate.enabled || this.staticChange || !this.queues.length) return false;
    if (!this.motion.quiet(m)) return false;
    const t = this.capture.mediaClock ? ts : this.takenAt(ts);
    if (!this.gate.settled(t) || !this.mayHold(t)) return false;
    this.quietSkipped++;
    this.skip(t);
    return true;
  }

  /** Nothing on its way to a verdict or a presence step: a still frame tells nothing new. */
  private mayHold(ts: number): boolean {
    const due = this.engine.candidatesDueAt();
    if (due !== null && ts >= due) return false;
    // A presence step judges from fresh analyses (the engine's last evaluated frame, within
    // 10 s): the last three frames before it are inferred, so one lost to a busy detector
    // still leaves it a fresh look. Not more: at 134 cameras, events confirmed together
    // have their steps together, and inferring every camera for still_max_s before each
    // step filled the detector's queue and lost frames of the cameras that were changing.
    const horizon = 3 * Math.max(this.camera.interval_s * 1000, this.tracker.interval.medianMs() ?? 0);
    return !this.events.presenceDue(this.camera.id, this.ctx.clock.now() + horizon);
  }

  /**
   * The first frame at or after a candidate's dwell completes: its verdict, and so its
   * warning, waits on this frame's inference. Once per due time, so a camera whose
   * candidate does not fire (a group short of its count) does not stay ahead of the rest.
   */
  private mayComplete(ts: number): boolean {
    const due = this.engine.candidatesDueAt();
    if (due === null || !Number.isFinite(due) || ts < due || due === this.urgentDue) return false;
    this.urgentDue = due;
    return true;
  }

  private skip(ts: number): void {
    this.stillSkipped++;
    // The tracker must not go back in time: with a frame in flight, hold after it is back.
    if (this.gate.pending) this.heldTs = ts;
    else this.held(ts);
  }

  /** A skipped frame keeps the tracks alive, and the console's live view moves on with them. */
  private held(ts: number): void {
    this.tracker.hold(ts);
    if (this.onTracks)
      this.onTracks(
        this.toWall(ts),
        this.tracker.all().map((t) => trackView(t, ts)),
      );
  }

  /** A model dropped this camera's frame (it fell behind) or failed on it. */
  private onLost(frame: Frame): void {
    // The frame is lost for every model: take it back from the queues still holding it.
    if (this.join.lost(frame)) for (const q of this.queues) if (q.discard(frame)) this.join.lost(frame);
  }

  start(): void {
    // The overload watch's clock (it compares with Date.now(), as analysis stamps are wall-aligned).
    this.startedAt ??= Date.now();
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
    const h = this.capture.snapshot();
    return {
      camera: this.camera.id,
      intervalS: this.camera.interval_s,
      analysisIntervalS: ms === null ? null : ms / 1000,
      lastAnalysisAt: this.tracker.interval.lastTs,
      // A camera with nothing to analyse it (its models failed) is not behind: its health says why.
      live:
        !this.capture.mediaClock &&
        (this.queues.length > 0 || this.staticChange !== null) &&
        (h.state === 'online' || (h.state === 'reconnecting' && h.code === 'timeout')),
      startedAt: this.startedAt ?? undefined,
    };
  }

  private withAnalysis(h: CameraHealth): CameraHealth {
    const ms = this.tracker.interval.medianMs();
    return {
      ...h,
      analysisIntervalS: ms === null ? null : Math.round(ms / 100) / 10,
      lastAnalysisAt: this.tracker.interval.lastTs,
      stillSkipped: this.stillSkipped,
      quietSkipped: this.quietSkipped,
    };
  }

  /** One frame's detections, every model's merged, in the shared vocabulary. */
  private track(frame: Frame, detections: Detection[]): void {
    this.staticChange?.modelsSaw(frame.ts, detections);
    const tracks = this.tracker.update(detections, frame.ts);
    this.onTracks?.(
      this.toWall(frame.ts),
      tracks.map((t) => trackView(t, frame.ts)),
    );
    const verdicts = this.engine.evaluate(tracks, frame.ts);
    this.gate.analysed(frame.ts);
    if (this.heldTs !== null && !this.gate.pending) {
      this.held(this.heldTs);
      this.heldTs = null;
    }
    if (!verdicts.length) return;
    // The frame buffer goes back to the pool after this call: evidence needs its own copy.
    const copy = { rgb: Buffer.from(frame.data), width: frame.width, height: frame.height, still: () => this.capture.still() };
    for (const v of verdicts) {
      this.events
        .confirm({ ...v, at: this.toWall(v.at), since: this.toWall(v.since) }, copy)
        .catch((err: Error) => this.log.error({ err }, 'could not record event'));
    }
  }

  /**
   * New zones and rules from a reload: a fresh rule engine (what the old one was timing
   * starts over), and the static-change zones as the new settings name them (an unchanged
   * zone keeps its learnt reference; a new or moved one learns from the next frames).
   * Frames are handled synchronously, so no frame sees half of the change.
   */
  setZones(camera: CameraSettings, rules: ZoneRule[]): void {
    this.camera = camera;
    this.engine = new RuleEngine(
      rules,
      (r, box, ts) => this.events.isSuppressed(r, box, this.toWall(ts)),
      () => this.tracker.lifetimeMs(),
      (ts) => this.toWall(ts),
    );
    const zones = camera.static_change ? staticZones(camera) : [];
    if (!zones.length) this.staticChange = null;
    else if (this.staticChange) this.staticChange.setZones(zones);
    else this.staticChange = new StaticChangeDetector(zones, staticSettings(camera));
    this.gate = this.newGate(rules);
    this.heldTs = null;
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
