/** Greedy per-class non-maximum suppression over decoder candidates. Returns kept indices. */
import type { Candidates } from './types.ts';

export function nms(c: Candidates, iouThreshold: number, maxDetections = 300): number[] {
  const order = Array.from({ length: c.count }, (_, i) => i).sort((a, b) => c.scores[b] - c.scores[a]);
  const kept: number[] = [];
  const b = c.boxes;
  for (const i of order) {
    let keep = true;
    for (const k of kept) {
      if (c.classes[k] !== c.classes[i]) continue;
      const ix = Math.max(0, Math.min(b[i * 4 + 2], b[k * 4 + 2]) - Math.max(b[i * 4], b[k * 4]));
      const iy = Math.max(0, Math.min(b[i * 4 + 3], b[k * 4 + 3]) - Math.max(b[i * 4 + 1], b[k * 4 + 1]));
      const inter = ix * iy;
      const ua = (b[i * 4 + 2] - b[i * 4]) * (b[i * 4 + 3] - b[i * 4 + 1]) + (b[k * 4 + 2] - b[k * 4]) * (b[k * 4 + 3] - b[k * 4 + 1]) - inter;
      if (ua > 0 && inter / ua > iouThreshold) {
        keep = false;
        break;
      }
    }
    if (keep) {
      kept.push(i);
      if (kept.length >= maxDetections) break;
    }
  }
  return kept;
}
