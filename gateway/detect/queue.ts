/**
 * The detector's inbox, one per model, shared by every camera that uses the model.
 * A camera has at most one frame waiting (a newer frame replaces it: a stale frame of a
 * static scene is worth nothing), and the whole queue is bounded: when full, the oldest
 * frame is dropped. Every drop is counted against its camera; nothing grows without end.
 * When the model takes a batch, the frames waiting from several cameras go in one run.
 */
import type { Frame } from '../capture/camera.ts';
import type { Detection, Detector, RunTiming } from './types.ts';

export interface Detected {
  /** The model's id (its manifest's). */
  model: string;
  frame: Frame;
  detections: Detection[];
  /** Of the whole run; `batch` frames shared it. */
  timing: RunTiming;
  batch: number;
}

export interface QueueStats {
  processed: number;
  dropped: number;
  errors: number;
  waiting: number;
  runs: number;
  /** Mean frames per session.run. */
  meanBatch: number;
  /** Mean milliseconds per frame, by stage, over recent runs. */
  preMs: number;
  inferMs: number;
  postMs: number;
  ipcMs: number;
  droppedByCamera: Record<string, number>;
}

export class DetectQueue {
  private readonly waiting: Frame[] = [];
  private running = false;
  private readonly stats: QueueStats = {
    processed: 0,
    dropped: 0,
    errors: 0,
    waiting: 0,
    runs: 0,
    meanBatch: 0,
    preMs: 0,
    inferMs: 0,
    postMs: 0,
    ipcMs: 0,
    droppedByCamera: {},
  };
  private readonly model: Detector;
  private readonly capacity: number;
  private readonly onResult: (r: Detected) => void;
  private readonly onDrop: (f: Frame) => void;
  private readonly onError: (f: Frame, e: Error) => void;
  private readonly batch: Frame[] = [];
  private idle: (() => void)[] = [];

  constructor(o: {
    model: Detector;
    capacity: number;
    onResult: (r: Detected) => void;
    onDrop: (f: Frame) => void;
    onError: (f: Frame, e: Error) => void;
  }) {
    this.model = o.model;
    this.capacity = o.capacity;
    this.onResult = o.onResult;
    this.onDrop = o.onDrop;
    this.onError = o.onError;
  }

  get id(): string {
    return this.model.manifest.id;
  }

  push(frame: Frame): void {
    const same = this.waiting.findIndex((f) => f.camera === frame.camera);
    if (same >= 0) this.drop(this.waiting.splice(same, 1)[0]);
    else if (this.waiting.length >= this.capacity) this.drop(this.waiting.shift()!);
    this.waiting.push(frame);
    if (!this.running) {
      // Start on the next microtask: frames pushed in the same turn (several cameras) share a run.
      this.running = true;
      queueMicrotask(() => void this.drain());
    }
  }

  private drop(f: Frame): void {
    this.stats.dropped++;
    this.stats.droppedByCamera[f.camera] = (this.stats.droppedByCamera[f.camera] ?? 0) + 1;
    f.release();
    this.onDrop(f);
  }

  private async drain(): Promise<void> {
    this.running = true;
    const batch = this.batch;
    try {
      while (this.waiting.length) {
        const n = Math.min(this.waiting.length, Math.max(1, this.model.maxBatch));
        batch.length = 0;
        for (let i = 0; i < n; i++) batch.push(this.waiting.shift()!);
        const timing: RunTiming = { preMs: 0, inferMs: 0, postMs: 0, ipcMs: 0 };
        try {
          const results = await this.model.detectBatch(batch, timing);
          this.account(timing, n);
          for (let i = 0; i < n; i++) {
            try {
              this.onResult({ model: this.id, frame: batch[i], detections: results[i], timing, batch: n });
            } catch (e) {
              this.onError(batch[i], e as Error);
            }
          }
        } catch (e) {
          this.stats.errors += n;
          for (const f of batch) this.onError(f, e as Error);
        } finally {
          for (const f of batch) f.release();
          batch.length = 0;
        }
      }
    } finally {
      this.running = false;
      for (const done of this.idle.splice(0)) done();
    }
  }

  /** Exponential moving averages: cheap, and recent enough for a status page. */
  private account(t: RunTiming, n: number): void {
    const s = this.stats;
    s.processed += n;
    s.runs++;
    const a = s.runs === 1 ? 1 : 0.1;
    s.meanBatch += a * (n - s.meanBatch);
    s.preMs += a * (t.preMs / n - s.preMs);
    s.inferMs += a * (t.inferMs / n - s.inferMs);
    s.postMs += a * (t.postMs / n - s.postMs);
    s.ipcMs += a * ((t.ipcMs ?? 0) / n - s.ipcMs);
  }

  getStats(): QueueStats {
    return { ...this.stats, waiting: this.waiting.length, droppedByCamera: { ...this.stats.droppedByCamera } };
  }

  /**
   * Takes a waiting frame back without running it (another model of its camera dropped
   * it, so its result would be thrown away). Not counted as a drop here: the camera's
   * join counts the frame once.
   */
  discard(frame: Frame): boolean {
    const i = this.waiting.indexOf(frame);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    frame.release();
    return true;
  }

  /** Resolves when nothing is waiting or running (tests, shutdown). */
  settled(): Promise<void> {
    if (!this.running && !this.waiting.length) return Promise.resolve();
    return new Promise((ok) => this.idle.push(ok));
  }

  /** Drops every waiting frame (on shutdown). */
  clear(): void {
    for (const f of this.waiting.splice(0)) f.release();
  }
}
