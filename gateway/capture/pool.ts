/**
 * Frame buffers for one camera. A camera needs at most three at once (one being filled,
 * one waiting for the detector, one being detected); when all are busy the new frame is
 * skipped before a byte is copied, and counted.
 */
import type { FramePool, Motion } from '../../devices/ffmpeg/frames.ts';

export class CameraFramePool implements FramePool {
  private readonly free: Buffer[] = [];
  private outstanding = 0;
  private lastTaken = -Infinity;
  skippedBusy = 0;
  /** Asked for a due key frame the source can describe: true leaves it undecoded (see quiet()). */
  onQuiet: ((ts: number, motion: Motion) => boolean) | null = null;
  private readonly max: number;
  private readonly intervalMs: number;

  constructor(intervalMs: number, max = 3) {
    this.intervalMs = intervalMs;
    this.max = max;
  }

  /** A due frame the camera's pipeline calls still, from what the encoder spent: it counts as taken. */
  quiet(ts: number, motion: Motion): boolean {
    if (!this.onQuiet || ts - this.lastTaken < this.intervalMs * 0.9) return false;
    if (!this.onQuiet(ts, motion)) return false;
    this.lastTaken = ts;
    return true;
  }

  take(size: number, ts: number): Buffer | null {
    // Key frames jitter a little around their nominal period: accept 10% early.
    if (ts - this.lastTaken < this.intervalMs * 0.9) return null;
    let buf = this.free.pop();
    while (buf && buf.length !== size) buf = this.free.pop(); // size changed: let old ones go
    if (!buf) {
      if (this.outstanding >= this.max) {
        this.skippedBusy++;
        return null;
      }
      // Shared memory: a model's worker thread reads the pixels where they are, no copy.
      buf = Buffer.from(new SharedArrayBuffer(size));
    }
    this.outstanding++;
    this.lastTaken = ts;
    return buf;
  }

  release(buf: Buffer): void {
    this.outstanding--;
    this.free.push(buf);
  }
}
