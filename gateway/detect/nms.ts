/**
 * Greedy per-class non-maximum suppression over decoder candidates. The index buffers are
 * kept between frames, so a frame allocates nothing here once they fit the busiest frame.
 */
import type { Candidates } from './types.ts';

export class Nms {
  private order = new Int32Array(256);
  private kept = new Int32Array(64);
  private scores: Float32Array = new Float32Array(0);
  // Bound once: a sort comparator created per frame would be garbage per frame.
  private readonly byScore = (a: number, b: number) => this.scores[b] - this.scores[a];

  /**
   * Returns the kept candidate indices, best first, as a view valid until the next call.
   * `iouThreshold` >= 1 keeps everything (models whose graph already did NMS).
   */
  run(c: Candidates, iouThreshold: number, maxDetections = 300): Int32Array {
    const n = c.count;
    if (this.order.length < n) this.order = new Int32Array(n * 2);
    const order = this.order.subarray(0, n);
    for (let i = 0; i < n; i++) order[i] = i;
    this.scores = c.scores;
    order.sort(this.byScore);
    if (this.kept.length < Math.min(n, maxDetections)) this.kept = new Int32Array(Math.min(n, maxDetections) * 2);
    const kept = this.kept;
    const b = c.boxes;
    let k = 0;
    for (let oi = 0; oi < n && k < maxDetections; oi++) {
      const i = order[oi];
      let keep = true;
      if (iouThreshold < 1) {
        const ax1 = b[i * 4],
          ay1 = b[i * 4 + 1],
          ax2 = b[i * 4 + 2],
          ay2 = b[i * 4 + 3];
        const areaA = (ax2 - ax1) * (ay2 - ay1);
        for (let j = 0; j < k; j++) {
          const q = kept[j];
          if (c.classes[q] !== c.classes[i]) continue;
          const ix = Math.min(ax2, b[q * 4 + 2]) - Math.max(ax1, b[q * 4]);
          if (ix <= 0) continue;
          const iy = Math.min(ay2, b[q * 4 + 3]) - Math.max(ay1, b[q * 4 + 1]);
          if (iy <= 0) continue;
          const inter = ix * iy;
          const ua = areaA + (b[q * 4 + 2] - b[q * 4]) * (b[q * 4 + 3] - b[q * 4 + 1]) - inter;
          if (ua > 0 && inter / ua > iouThreshold) {
            keep = false;
            break;
          }
        }
      }
      if (keep) kept[k++] = i;
    }
    return kept.subarray(0, k);
  }
}

/** One-off convenience (tests, tools); the hot path keeps an `Nms` per model. */
export function nms(c: Candidates, iouThreshold: number, maxDetections = 300): number[] {
  return Array.from(new Nms().run(c, iouThreshold, maxDetections));
}
