/**
 * The detector's inbox, one per model, shared by every camera that uses the model.
 * A camera has at most one frame waiting (a newer frame replaces it: a stale frame of a
 * static scene is worth nothing), and the whole queue is bounded: when full, the oldest
 * frame is dropped. Every drop is counted against its camera; nothing grows without end.
 */
import type { Frame } from '../capture/camera.ts';
import type { Detection } from './types.ts';
import type { Model, RunTiming } from './model.ts';

export interface Detected {
  frame: Frame;
  detections: Detection[];
  timing: RunTiming;
}

export interface QueueStats {
  processed: number;
  dropped: number;
  waiting: number;
  /** Mean milliseconds per stage over the last processed frames. */
  preMs: number;
  inferMs: number;
  postMs: number;
}

export class DetectQueue {
  private readonly waiting: Frame[] = [];
  private running = false;
  private readonly stats: QueueStats = { processed: 0, dropped: 0, waiting: 0, preMs: 0, inferMs: 0, postMs: 0 };
  private readonly model: Model;
  private readonly capacity: number;
  private readonly onResult: (r: Detected) => void;
  private readonly onDrop: (f: Frame) => void;
  private readonly onError: (f: Frame, e: Error) => void;

  constructor(o: { model: Model; capacity: number; onResult: (r: Detected) => void; onDrop: (f: Frame) => void; onError: (f: Frame, e: Error) => void }) {
    this.model = o.model;
    this.capacity = o.capacity;
    this.onResult = o.onResult;
    this.onDrop = o.onDrop;
    this.onError = o.onError;
  }

  push(frame: Frame): void {
    const same = this.waiting.findIndex((f) => f.camera === frame.camera);
    if (same >= 0) this.drop(this.waiting.splice(same, 1)[0]);
    else if (this.waiting.length >= this.capacity) this.drop(this.waiting.shift()!);
    this.waiting.push(frame);
    if (!this.running) void this.drain();
  }

  private drop(f: Frame): void {
    this.stats.dropped++;
    f.release();
    this.onDrop(f);
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      let frame: Frame | undefined;
      while ((frame = this.waiting.shift())) {
        const timing = { preMs: 0, inferMs: 0, postMs: 0 };
        try {
          const detections = await this.model.detect(frame.data, frame.width, frame.height, timing);
          this.stats.processed++;
          // Exponential moving average: cheap, and recent enough for a status page.
          const a = 0.1;
          this.stats.preMs += a * (timing.preMs - this.stats.preMs);
          this.stats.inferMs += a * (timing.inferMs - this.stats.inferMs);
          this.stats.postMs += a * (timing.postMs - this.stats.postMs);
          this.onResult({ frame, detections, timing });
        } catch (e) {
          this.onError(frame, e as Error);
        } finally {
          frame.release();
        }
      }
    } finally {
      this.running = false;
    }
  }

  getStats(): QueueStats {
    return { ...this.stats, waiting: this.waiting.length };
  }

  /** Drops every waiting frame (on shutdown). */
  clear(): void {
    for (const f of this.waiting.splice(0)) f.release();
  }
}
