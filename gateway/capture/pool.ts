/**
 * Frame buffers for one camera. A camera needs at most three at once (one being filled,
 * one waiting for the detector, one being detected); when all are busy the new frame is
 * skipped before a byte is copied, and counted.
 */
import type { FramePool } from '../../devices/ffmpeg/frames.ts';

export class CameraFramePool implements FramePool {
  private readonly free: Buffer[] = [];
  private outstanding = 0;
  private lastTaken = -Infinity;
  skippedBusy = 0;
  private readonly max: number;
  private readonly intervalMs: number;

  constructor(intervalMs: number, max = 3) {
    this.intervalMs = intervalMs;
    this.max = max;
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
