/**
 * One camera's path through the stages: capture → (shared detector queue) → tracker →
 * rules → events. Frames arrive already scaled; a verdict copies the frame once for its
 * evidence, nothing else allocates per frame.
 */
import type { CameraSettings } from './settings/schema.ts';
import type { Context } from './context.ts';
import { CameraCapture, type Frame } from './capture/camera.ts';
import type { CameraHealth } from './capture/health.ts';
import { Tracker } from './track/tracker.ts';
import { RuleEngine, type Presence } from './rules/engine.ts';
import type { ZoneRule } from './rules/zone-rules.ts';
import type { DetectQueue, Detected } from './detect/queue.ts';
import type { EventService } from './events/service.ts';
import type { EventRecord } from './events/types.ts';

export class CameraPipeline {
  readonly camera: CameraSettings;
  readonly capture: CameraCapture;
  private readonly tracker: Tracker;
  private readonly engine: RuleEngine;
  private readonly ctx: Context;
  private readonly events: EventService;
  private readonly freshMs: number;
  detectorError: string | null = null;

  constructor(o: { ctx: Context; camera: CameraSettings; rules: ZoneRule[]; queue: DetectQueue | null; input: { width: number; height: number; fit: 'fit' | 'stretch' }; events: EventService; onHealth: (h: CameraHealth) => void }) {
    const { ctx, camera } = o;
    this.ctx = ctx;
    this.camera = camera;
    this.events = o.events;
    const s = ctx.config.settings;
    this.tracker = new Tracker({ maxMissedS: s.tracking.max_missed_s, stationaryRatio: s.tracking.stationary_ratio });
    this.engine = new RuleEngine(o.rules, (r, box, ts) => this.events.isSuppressed(r, box, ts), s.tracking.max_missed_s);
    this.freshMs = Math.max(3 * camera.interval_s * 1000, 10_000);
    const queue = o.queue;
    this.capture = new CameraCapture({
      camera, width: o.input.width, height: o.input.height, fit: o.input.fit, log: ctx.log,
      resolvePath: ctx.config.resolvePath,
      onHealth: o.onHealth,
      onFrame: (f: Frame) => {
        if (queue) queue.push(f);
        else f.release();
      },
    });
  }

  start(): void {
    this.capture.start();
  }

  stop(): Promise<void> {
    return this.capture.stop();
  }

  /** Called by the detector queue with this camera's frame and its detections. */
  onDetected(r: Detected): void {
    const { frame, detections } = r;
    const tracks = this.tracker.update(detections, frame.ts);
    const verdicts = this.engine.evaluate(tracks, frame.ts);
    if (!verdicts.length) return;
    // The frame buffer goes back to the pool after this call: evidence needs its own copy.
    const copy = { rgb: Buffer.from(frame.data), width: frame.width, height: frame.height, still: () => this.capture.still() };
    for (const v of verdicts) {
      this.events.confirm(v, copy).catch((e: Error) => this.ctx.log.error({ camera: this.camera.id, err: e.message }, 'could not record event'));
    }
  }

  presence(e: EventRecord): Presence {
    return this.engine.presence(e.type, e.zone, e.box, e.trackIds, this.ctx.clock.now(), this.freshMs);
  }
}
