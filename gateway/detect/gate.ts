/**
 * Skips inference on still scenes. Most of a township's cameras look at a street where
 * nothing happens most of the time; running the model on the same picture again tells the
 * rules nothing new. Per camera, each frame is shrunk to a tiny grey thumbnail (32×18, the
 * mean of each cell's pixels) and compared with the thumbnail of the last frame sent to
 * inference, only in the cells the camera's zones cover (the zones' masks left out, one
 * cell of margin around them).
 *
 * - Light: a slow drift of brightness or gain over the whole picture is fitted away (the
 *   median difference, then a gain and offset fitted on the cells that agree with it).
 * - Noise: rain, snow and sensor grain change single pixels; a cell's mean averages them
 *   out, and only cells off by more than `threshold` grey levels count. The picture changed
 *   when at least `minCells` cells did: a car parking covers several.
 *
 * A change is inferred twice before the gate calls the picture still again: the frame
 * that shows it, and the next one (still against it). A detector that misses a thing in
 * the frame it arrived in gets a second look, not a wait of `maxStillS`.
 *
 * The gate only says whether the picture is still. Whether a still frame is skipped is
 * the pipeline's call (no live candidate, no recheck due), and never for longer than
 * `maxStillS` since the last frame sent to inference. Every buffer is reused.
 */
import { pointInPolygon, type Pt } from '../zones/geometry.ts';
import type { FrameLike } from './types.ts';

export interface GateZone {
  polygon: readonly Pt[];
  mask?: readonly (readonly Pt[])[];
}

export interface StillGateOptions {
  /** The zones (normalised); none: the whole picture. */
  zones: readonly GateZone[];
  /** Longest stretch without inference, seconds; 0 turns the gate off. */
  maxStillS: number;
  cols?: number;
  rows?: number;
  /** Grey levels (0-255) a cell's mean must move by, after the light is fitted, to count. */
  threshold?: number;
  /** Cells that must change for the picture to have changed. */
  minCells?: number;
}

/** What the gate made of one frame (reused: read it before the next look). */
export interface Look {
  still: boolean;
  /** Cells that changed, after the light fit. */
  changed: number;
  /** Too long since the last frame sent to inference: it must be analysed whatever it shows. */
  stale: boolean;
}

export class StillGate {
  readonly cols: number;
  readonly rows: number;
  private readonly threshold: number;
  private readonly minCells: number;
  private readonly maxMs: number;
  /** Indices of the cells the gate watches. */
  private readonly cells: Int32Array;
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  /** This frame's thumbnail, the one sent last (may be in flight), the last one analysed. */
  private cur: Float32Array;
  private sent: Float32Array;
  private base: Float32Array;
  private sentTs: number | null = null;
  private baseTs: number | null = null;
  /** Whether that frame was itself still against the one before it (the change had its second look). */
  private sentSettled = false;
  private baseSettled = false;
  private readonly diffs: Float32Array;
  private readonly sorted: Float32Array;
  /** Per frame size: the cell of each pixel column and row. */
  private colCell = new Int32Array(0);
  private rowCell = new Int32Array(0);
  /** Per row of cells, the pixel columns [from, to) of its watched cells, merged: only those are read. */
  private spans: Int32Array[] = [];
  private frameW = 0;
  private frameH = 0;
  private readonly look: Look = { still: false, changed: 0, stale: true };
  /** The frame looked at last matched its reference (whether or not that had settled). */
  private curStill = false;

  constructor(o: StillGateOptions) {
    this.cols = o.cols ?? 32;
    this.rows = o.rows ?? 18;
    this.threshold = o.threshold ?? 10;
    this.minCells = o.minCells ?? 2;
    this.maxMs = o.maxStillS * 1000;
    const n = this.cols * this.rows;
    this.cells = watchedCells(o.zones, this.cols, this.rows);
    this.sums = new Float64Array(n);
    this.counts = new Float64Array(n);
    this.cur = new Float32Array(n);
    this.sent = new Float32Array(n);
    this.base = new Float32Array(n);
    this.diffs = new Float32Array(this.cells.length);
    this.sorted = new Float32Array(this.cells.length);
  }

  get enabled(): boolean {
    return this.maxMs > 0 && this.cells.length > 0;
  }

  /**
   * Looks at a frame: is it still against the last frame sent to inference (or, if that
   * was lost, the last one analysed), and is that one recent enough?
   */
  check(frame: FrameLike, ts: number): Look {
    const l = this.look;
    l.changed = 0;
    l.still = false;
    l.stale = true;
    this.curStill = false;
    if (!this.enabled) return l;
    this.thumbnail(frame, this.cur);
    const refTs = this.sentTs ?? this.baseTs;
    if (refTs === null) return l;
    l.stale = ts - refTs >= this.maxMs;
    const inFlight = this.sentTs !== null;
    l.changed = this.compare(this.cur, inFlight ? this.sent : this.base);
    this.curStill = l.changed < this.minCells;
    l.still = this.curStill && (inFlight ? this.sentSettled : this.baseSettled);
    return l;
  }

  /** The frame just looked at goes to inference: it becomes the reference. */
  sentNow(ts: number): void {
    if (!this.enabled) return;
    const t = this.sent;
    this.sent = this.cur;
    this.cur = t;
    this.sentTs = ts;
    this.sentSettled = this.curStill;
  }

  /** A frame came back from inference. The newest one sent is the reference from now on. */
  analysed(ts: number): void {
    if (this.sentTs === null || ts < this.sentTs) return;
    const t = this.base;
    this.base = this.sent;
    this.sent = t;
    this.baseTs = this.sentTs;
    this.baseSettled = this.sentSettled;
    this.sentTs = null;
  }

  /** A frame sent was dropped: compare with the last one actually analysed again. */
  lost(ts: number): void {
    if (this.sentTs === ts) this.sentTs = null;
  }

  /**
   * Without looking at a picture (it is not decoded): would a still one be skipped now? The
   * reference is recent enough, and its own change, if it showed one, had its second look.
   */
  settled(ts: number): boolean {
    if (!this.enabled) return false;
    const refTs = this.sentTs ?? this.baseTs;
    if (refTs === null || ts - refTs >= this.maxMs) return false;
    return this.sentTs !== null ? this.sentSettled : this.baseSettled;
  }

  /** A frame is in flight (sent, not back yet). */
  get pending(): boolean {
    return this.sentTs !== null;
  }

  /** The mean grey of each cell, from every pixel (noise averages out over a cell's ~170). */
  private thumbnail(f: FrameLike, out: Float32Array): void {
    const { width: w, height: h, data } = f;
    if (w !== this.frameW || h !== this.frameH) this.resize(w, h);
    const sums = this.sums;
    sums.fill(0);
    const colCell = this.colCell;
    for (let y = 0; y < h; y++) {
      const r = this.rowCell[y];
      const spans = this.spans[r];
      if (!spans.length) continue;
      const rowBase = r * this.cols;
      for (let k = 0; k < spans.length; k += 2) {
        let p = (y * w + spans[k]) * 3;
        for (let x = spans[k]; x < spans[k + 1]; x++, p += 3) sums[rowBase + colCell[x]] += data[p] + 2 * data[p + 1] + data[p + 2];
      }
    }
    for (let i = 0; i < out.length; i++) out[i] = sums[i] / (4 * this.counts[i]);
  }

  private resize(w: number, h: number): void {
    this.frameW = w;
    this.frameH = h;
    this.colCell = new Int32Array(w);
    this.rowCell = new Int32Array(h);
    for (let x = 0; x < w; x++) this.colCell[x] = Math.min(this.cols - 1, Math.floor((x * this.cols) / w));
    for (let y = 0; y < h; y++) this.rowCell[y] = Math.min(this.rows - 1, Math.floor((y * this.rows) / h));
    this.counts.fill(0);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) this.counts[this.rowCell[y] * this.cols + this.colCell[x]]++;
    const watched = new Uint8Array(this.cols * this.rows);
    for (const c of this.cells) watched[c] = 1;
    this.spans = Array.from({ length: this.rows }, (_, r) => {
      const out: number[] = [];
      for (let x = 0; x < w; x++) {
        if (!watched[r * this.cols + this.colCell[x]]) continue;
        if (out.length && out[out.length - 1] === x) out[out.length - 1] = x + 1;
        else out.push(x, x + 1);
      }
      return Int32Array.from(out);
    });
    // A change of frame size: nothing to compare with.
    this.sentTs = null;
    this.baseTs = null;
  }

  /** Cells off by more than the threshold once the light is fitted: now ≈ gain × ref + offset. */
  private compare(now: Float32Array, ref: Float32Array): number {
    const cells = this.cells;
    const n = cells.length;
    const d = this.diffs;
    for (let k = 0; k < n; k++) d[k] = now[cells[k]] - ref[cells[k]];
    this.sorted.set(d);
    this.sorted.sort();
    const offset = n % 2 ? this.sorted[n >> 1] : (this.sorted[(n >> 1) - 1] + this.sorted[n >> 1]) / 2;
    // A gain (contrast, exposure) moves bright cells more than dark ones: fit it on the cells
    // that agree with the median, so a car taking a few cells does not pull the fit.
    let sx = 0,
      sy = 0,
      sxx = 0,
      sxy = 0,
      m = 0;
    for (let k = 0; k < n; k++) {
      if (Math.abs(d[k] - offset) > 3 * this.threshold) continue;
      const x = ref[cells[k]],
        y = now[cells[k]];
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
      m++;
    }
    let gain = 1,
      shift = offset;
    const varX = m > 1 ? sxx / m - (sx / m) ** 2 : 0;
    if (varX > 25) {
      gain = Math.min(1.5, Math.max(0.67, (sxy / m - (sx / m) * (sy / m)) / varX));
      shift = sy / m - gain * (sx / m);
    }
    let changed = 0;
    for (let k = 0; k < n; k++) {
      const c = cells[k];
      const fitted = Math.abs(now[c] - (gain * ref[c] + shift));
      // Whichever explains the cell better: the fit, or the median offset alone.
      if (Math.min(fitted, Math.abs(d[k] - offset)) > this.threshold) changed++;
    }
    return changed;
  }
}

/**
 * The cells any zone touches (outside its masks), sampled at 3×3 points per cell, with one
 * cell of margin: a thing entering a zone changes the picture at its edge first.
 */
export function watchedCells(zones: readonly GateZone[], cols: number, rows: number): Int32Array {
  if (!zones.length) return Int32Array.from({ length: cols * rows }, (_, i) => i);
  const hit = new Uint8Array(cols * rows);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++)
      for (let j = 0; j < 3 && !hit[r * cols + c]; j++)
        for (let i = 0; i < 3; i++) {
          const x = (c + (i + 0.5) / 3) / cols,
            y = (r + (j + 0.5) / 3) / rows;
          if (zones.some((z) => pointInPolygon(x, y, z.polygon) && !(z.mask ?? []).some((m) => pointInPolygon(x, y, m)))) {
            hit[r * cols + c] = 1;
            break;
          }
        }
  const out: number[] = [];
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      let near = false;
      for (let dr = -1; dr <= 1 && !near; dr++)
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr,
            cc = c + dc;
          if (rr >= 0 && rr < rows && cc >= 0 && cc < cols && hit[rr * cols + cc]) {
            near = true;
            break;
          }
        }
      if (near) out.push(r * cols + c);
    }
  return Int32Array.from(out);
}
