import type { Box } from '../zones/geometry.ts';

/** One detected object; the box is normalised to the analysed picture (0..1). */
export interface Detection {
  label: string;
  score: number;
  box: Box;
}

/** Raw candidates from a decoder, in model-input pixels, before NMS. */
export interface Candidates {
  boxes: Float32Array; // x1,y1,x2,y2 per candidate
  scores: Float32Array;
  classes: Int32Array;
  count: number;
}

export function newCandidates(capacity: number): Candidates {
  return { boxes: new Float32Array(capacity * 4), scores: new Float32Array(capacity), classes: new Int32Array(capacity), count: 0 };
}

export function pushCandidate(c: Candidates, x1: number, y1: number, x2: number, y2: number, score: number, cls: number): void {
  const i = c.count;
  if (i >= c.scores.length) return; // capacity is the anchor count, so this only guards bad models
  c.boxes[i * 4] = x1;
  c.boxes[i * 4 + 1] = y1;
  c.boxes[i * 4 + 2] = x2;
  c.boxes[i * 4 + 3] = y2;
  c.scores[i] = score;
  c.classes[i] = cls;
  c.count = i + 1;
}
