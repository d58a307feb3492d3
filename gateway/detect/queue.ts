/**
 * The detector's inbox, one per model, shared by every camera that uses the model.
 * A camera has at most one frame waiting (a newer frame replaces it: a stale frame of a
 * static scene is worth nothing). Under overload every camera still gets its turn: the
 * next frames run are those of the cameras served longest ago (round-robin over the
 * cameras with a frame due, not whoever's frame arrived last), and when the queue is full
 * the frame given up is the one of the camera served most recently. Every drop is counted
 * against its camera; nothing grows without end. When the model takes a batch, the frames
 * waiting from several cameras go in one run. Each frame's result goes straight back to
 * the camera that pushed it (its sink), not through a central router.
 *
 * A frame pushed as urgent (it may complete a dwell: its warning waits on it) goes ahead
 * of the round-robin, first come first served among urgent ones, and is never the one given
 * up for room; a newer frame of its camera that replaces it keeps its place. A camera sends one such frame per verdict due, so urgency cannot starve the
 * others.
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

/** Where one camera's results go: its own pipeline. */
export interface FrameSink {
  detected(r: Detected): void;
  /** The frame was given up (a newer one replaced it, or fairer claims filled the queue). */
  lost(f: Frame): void;
  failed(f: Frame, e: Error): void;
}

interface Waiting {
  frame: Frame;
  sink: FrameSink;
  /** The camera's last turn (service order) when the frame was pushed; far below every turn when urgent. */
  turn: number;
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
  private readonly waiting: Waiting[] = [];
  /** Camera → the turn it was last served (a counter; never served: absent, first in line). */
  private readonly served = new Map<string, number>();
  private turns = 0;
  private urgentSeq = 0;
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
  private readonly batch: Waiting[] = [];
  private idle: (() => void)[] = [];

  constructor(o: { model: Detector; capacity: number }) {
    this.model = o.model;
    this.capacity = o.capacity;
  }

  get id(): string {
    return this.model.manifest.id;
  }

  push(frame: Frame, sink: FrameSink, urgent = false): void {
    const turn = urgent ? Number.MIN_SAFE_INTEGER + this.urgentSeq++ : (this.served.get(frame.camera) ?? -1);
    const w: Waiting = { frame, sink, turn };
    const same = this.waiting.findIndex((x) => x.frame.camera === frame.camera);
    if (same >= 0) {
      // The newer frame takes the older one's place in line. Out of the line before the
      // drop is reported: the camera's join takes a dropped frame back from every queue.
      const old = this.waiting[same];
      // It keeps the older frame's claim too: an urgent frame replaced before its turn (the
      // box behind) would otherwise hand its camera's verdict to the back of the line.
      w.turn = Math.min(w.turn, old.turn);
      this.waiting[same] = w;
      this.drop(old);
      return;
    }
    if (this.waiting.length >= this.capacity) {
      // Full: the camera served most recently has the weakest claim, the newcomer included
      // (on a tie, the one that came last gives way).
      const last = this.mostRecent();
      if (this.waiting[last].turn > w.turn) this.drop(this.waiting.splice(last, 1)[0]);
      else return this.drop(w);
    }
    this.waiting.push(w);
    if (!this.running) {
      // Start on the next microtask: frames pushed in the same turn (several cameras) share a run.
      this.running = true;
      queueMicrotask(() => void this.drain());
    }
  }

  private mostRecent(): number {
    let best = 0;
    for (let i = 1; i < this.waiting.length; i++) if (this.waiting[i].turn >= this.waiting[best].turn) best = i;
    return best;
  }

  /** The waiting frame of the camera served longest ago (the earliest pushed on a tie). */
  private next(): Waiting {
    let best = 0;
    for (let i = 1; i < this.waiting.length; i++) if (this.waiting[i].turn < this.waiting[best].turn) best = i;
    const w = this.waiting.splice(best, 1)[0];
    this.served.set(w.frame.camera, this.turns++);
    return w;
  }

  private drop(w: Waiting): void {
    const f = w.frame;
    this.stats.dropped++;
    this.stats.droppedByCamera[f.camera] = (this.stats.droppedByCamera[f.camera] ?? 0) + 1;
    f.release();
    w.sink.lost(f);
  }

  private async drain(): Promise<void> {
    this.running = true;
    const batch = this.batch;
    try {
      while (this.waiting.length) {
        const n = Math.min(this.waiting.length, Math.max(1, this.model.maxBatch));
        batch.length = 0;
        for (let i = 0; i < n; i++) batch.push(this.next());
        const timing: RunTiming = { preMs: 0, inferMs: 0, postMs: 0, ipcMs: 0 };
        try {
          const results = await this.model.detectBatch(
            batch.map((w) => w.frame),
            timing,
          );
          this.account(timing, n);
          for (let i = 0; i < n; i++) {
            const { frame, sink } = batch[i];
            try {
              sink.detected({ model: this.id, frame, detections: results[i], timing, batch: n });
            } catch (e) {
              sink.failed(frame, e as Error);
            }
          }
        } catch (e) {
          this.stats.errors += n;
          for (const w of batch) w.sink.failed(w.frame, e as Error);
        } finally {
          for (const w of batch) w.frame.release();
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
    const i = this.waiting.findIndex((w) => w.frame === frame);
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
    for (const w of this.waiting.splice(0)) w.frame.release();
  }
}
