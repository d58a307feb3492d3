import type { Box } from '../zones/geometry.ts';
import type { Manifest } from './manifest.ts';

/** One detected object; the box is normalised to the analysed picture (0..1). */
export interface Detection {
  label: string;
  score: number;
  box: Box;
}

/** What a detector needs of a frame: RGB bytes, w x h x 3. */
export interface FrameLike {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Milliseconds spent per stage of one run (a batch counts once). */
export interface RunTiming {
  preMs: number;
  inferMs: number;
  postMs: number;
  /** Worker-hosted models: time lost handing the frames over and the results back. */
  ipcMs?: number;
}

/** A model that turns frames into detections: in this thread (Model) or a worker (ModelHost). */
export interface Detector {
  readonly manifest: Manifest;
  readonly maxBatch: number;
  detectBatch(frames: readonly FrameLike[], timing?: RunTiming): Promise<Detection[][]>;
  release(): Promise<void>;
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
  if (i >= c.scores.length) grow(c);
  c.boxes[i * 4] = x1;
  c.boxes[i * 4 + 1] = y1;
  c.boxes[i * 4 + 2] = x2;
  c.boxes[i * 4 + 3] = y2;
  c.scores[i] = score;
  c.classes[i] = cls;
  c.count = i + 1;
}

/** Doubles the capacity; happens only in the first frames, until it fits the busiest frame. */
function grow(c: Candidates): void {
  const n = Math.max(64, c.scores.length * 2);
  const boxes = new Float32Array(n * 4);
  boxes.set(c.boxes);
  const scores = new Float32Array(n);
  scores.set(c.scores);
  const classes = new Int32Array(n);
  classes.set(c.classes);
  c.boxes = boxes;
  c.scores = scores;
  c.classes = classes;
}
