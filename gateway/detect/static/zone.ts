/**
 * Model-free "something was left here" for one zone. It learns a clean reference of the
 * zone (the per-pixel median of the first frames), then on each frame:
 *
 * 1. Lighting: fits current ≈ a * reference + b over the zone's unflagged pixels (robustly:
 *    a second pass without the outliers), so a global brightness or gain change explains
 *    itself away. The reference is re-based onto the current light as it drifts.
 * 2. Change: a pixel differs when its intensity residual or its gradient residual (edges
 *    are what a new object adds; gradients ignore offsets) is above k x the zone's own
 *    noise (median absolute residual). Saturated pixels count for nothing either way.
 * 3. Cells of 4x4 analysis pixels change when enough of their pixels do. A changed cell
 *    becomes a candidate and remembers what it looks like; it stays a candidate while it
 *    keeps looking the same (brief occlusions tolerated). Passers-by never look the same
 *    for long, so they restart or clear the candidate; a thing put down does.
 * 4. A candidate held for persist_s is static. Neighbouring static cells (gaps of one cell
 *    bridged) form one region, reported with its box. Cells that match the reference
 *    update it slowly (time constant learn_s); candidates never do, so a pile is not
 *    learnt away (unless absorb_s says so).
 */
import type { Box, Pt } from '../../zones/geometry.ts';
import { pointInPolygon } from '../../zones/geometry.ts';
import type { LumaFrame } from './luma.ts';
import { cellRegions, type Region } from './regions.ts';

export interface StaticChangeOptions {
  /** Seconds a change must stay before it is reported. */
  persistS: number;
  /** Time constant of the reference's update where nothing is flagged, seconds. */
  learnS: number;
  /** 0..1: higher flags fainter changes. */
  sensitivity: number;
  /** Smallest region, as a share of the frame. */
  minArea: number;
  /** A static region older than this becomes part of the reference (0: never). */
  absorbS: number;
}

const CELL = 4;
const WARM_FRAMES = 5;
const MAX_MISSED = 3;
const CELL_CHANGED = 0.3;

export class ZoneWatcher {
  readonly zone: string;
  private readonly polygon: readonly Pt[];
  private readonly o: StaticChangeOptions;
  // Geometry on the analysis grid; rebuilt when the frame size changes.
  private lw = 0;
  private lh = 0;
  private x0 = 0;
  private y0 = 0;
  private rw = 0;
  private rh = 0;
  private cw = 0;
  private cells = 0;
  private inMask = new Uint8Array(0);
  private maskCount = 0;
  private cellOf = new Int32Array(0);
  /** Per cell: extent of its zone pixels (analysis grid), for boxes that stay in the zone. */
  private cellExtent = new Int32Array(0);
  // Reference, the candidates' remembered look, and the warm-up frames.
  private ref = new Float32Array(0);
  private hold = new Float32Array(0);
  private warm: Float32Array[] = [];
  private warmCount = 0;
  // Per cell state.
  private since = new Float64Array(0);
  private missed = new Uint8Array(0);
  private clean = new Uint8Array(0);
  private hits = new Uint16Array(0);
  /** 1 once the cell has shown the same new thing for persist_s. */
  private stat = new Uint8Array(0);
  private seen = new Uint16Array(0);
  // Per frame scratch.
  private nValid = new Int32Array(0);
  private nChanged = new Int32Array(0);
  private holdDiff = new Float32Array(0);
  private cur = new Float32Array(0);
  private eI = new Float32Array(0);
  private eG = new Float32Array(0);
  private readonly hist = new Int32Array(512);
  private lastTs = 0;
  private regions: Region[] = [];

  constructor(zone: string, polygon: readonly Pt[], o: StaticChangeOptions) {
    this.zone = zone;
    this.polygon = polygon;
    this.o = o;
  }

  /** Forget the reference and learn it again from the next frames. */
  reset(): void {
    this.warmCount = 0;
    this.since.fill(0);
    this.stat.fill(0);
    this.regions = [];
  }

  get learning(): boolean {
    return this.warmCount < WARM_FRAMES;
  }

  /** Static regions after this frame (boxes normalised to the frame). */
  process(l: LumaFrame, ts: number): readonly Region[] {
    if (l.width !== this.lw || l.height !== this.lh) this.layout(l.width, l.height);
    if (!this.maskCount) return this.regions;
    this.copyRect(l);
    if (this.warmCount < WARM_FRAMES) {
      this.learn();
      this.lastTs = ts;
      return this.regions;
    }
    const fit = this.fitLight();
    if (!fit) return this.regions; // too little of the zone visible to judge the light: skip
    const [a, b] = fit;
    this.classify(a, b, ts);
    this.lastTs = ts;
    if (Math.abs(a - 1) > 0.03 || Math.abs(b) > 3) this.rebase(a, b);
    this.regions = this.collect();
    return this.regions;
  }

  private layout(lw: number, lh: number): void {
    this.lw = lw;
    this.lh = lh;
    let minX = lw, minY = lh, maxX = -1, maxY = -1;
    for (let y = 0; y < lh; y++)
      for (let x = 0; x < lw; x++)
        if (pointInPolygon((x + 0.5) / lw, (y + 0.5) / lh, this.polygon)) {
          minX = Math.min(minX, x);
          maxX = Math.max(maxX, x);
          minY = Math.min(minY, y);
          maxY = Math.max(maxY, y);
        }
    if (maxX < 0) {
      this.maskCount = 0;
      return;
    }
    this.x0 = minX;
    this.y0 = minY;
    this.rw = maxX - minX + 1;
    this.rh = maxY - minY + 1;
    this.cw = Math.ceil(this.rw / CELL);
    this.cells = this.cw * Math.ceil(this.rh / CELL);
    const n = this.rw * this.rh;
    this.inMask = new Uint8Array(n);
    this.cellOf = new Int32Array(n);
    this.maskCount = 0;
    this.cellExtent = new Int32Array(4 * this.cells).fill(-1);
    const ext = this.cellExtent;
    for (let y = 0; y < this.rh; y++)
      for (let x = 0; x < this.rw; x++) {
        const i = y * this.rw + x;
        const c = Math.floor(y / CELL) * this.cw + Math.floor(x / CELL);
        this.cellOf[i] = c;
        if (pointInPolygon((x + minX + 0.5) / lw, (y + minY + 0.5) / lh, this.polygon)) {
          this.inMask[i] = 1;
          this.maskCount++;
          const [gx, gy] = [x + minX, y + minY];
          if (ext[4 * c] < 0 || gx < ext[4 * c]) ext[4 * c] = gx;
          if (ext[4 * c + 1] < 0 || gy < ext[4 * c + 1]) ext[4 * c + 1] = gy;
          ext[4 * c + 2] = Math.max(ext[4 * c + 2], gx);
          ext[4 * c + 3] = Math.max(ext[4 * c + 3], gy);
        }
      }
    for (const k of ['ref', 'hold', 'cur', 'eI', 'eG'] as const) this[k] = new Float32Array(n);
    this.warm = Array.from({ length: WARM_FRAMES }, () => new Float32Array(n));
    this.since = new Float64Array(this.cells);
    this.missed = new Uint8Array(this.cells);
    this.clean = new Uint8Array(this.cells);
    this.hits = new Uint16Array(this.cells);
    this.stat = new Uint8Array(this.cells);
    this.seen = new Uint16Array(this.cells);
    this.nValid = new Int32Array(this.cells);
    this.nChanged = new Int32Array(this.cells);
    this.holdDiff = new Float32Array(this.cells);
    this.reset();
  }

  private copyRect(l: LumaFrame): void {
    for (let y = 0; y < this.rh; y++) {
      const src = (y + this.y0) * this.lw + this.x0;
      this.cur.set(l.data.subarray(src, src + this.rw), y * this.rw);
    }
  }

  /** Warm-up: the reference is the per-pixel median of the first frames (passers-by drop out). */
  private learn(): void {
    this.warm[this.warmCount++].set(this.cur);
    if (this.warmCount < WARM_FRAMES) return;
    const v = new Float32Array(WARM_FRAMES);
    for (let i = 0; i < this.ref.length; i++) {
      for (let k = 0; k < WARM_FRAMES; k++) v[k] = this.warm[k][i];
      v.sort();
      this.ref[i] = v[WARM_FRAMES >> 1];
    }
  }

  private usable(i: number): boolean {
    const c = this.cur[i], r = this.ref[i];
    return this.inMask[i] === 1 && this.since[this.cellOf[i]] === 0 && c > 4 && c < 251 && r > 4 && r < 251;
  }

  /**
   * cur = a*ref + b over unflagged pixels. Least squares alone follows a big new object, so
   * it starts from the median difference (an offset, robust to half the zone changing),
   * fits the pixels near that, and refits without the outliers of the first fit.
   */
  private fitLight(): [number, number] | null {
    const hist = this.hist;
    hist.fill(0);
    let n = 0;
    for (let i = 0; i < this.cur.length; i++) {
      if (!this.usable(i)) continue;
      hist[Math.min(511, Math.max(0, Math.round(this.cur[i] - this.ref[i] + 256)))]++;
      n++;
    }
    if (n < Math.max(16, 0.2 * this.maskCount)) return null;
    const offset = median(hist, n) - 256;
    const first = this.solve(25, 1, offset) ?? this.solve(Infinity, 1, offset);
    if (!first) return null;
    hist.fill(0);
    n = 0;
    for (let i = 0; i < this.cur.length; i++) {
      if (!this.usable(i)) continue;
      hist[Math.min(255, Math.round(Math.abs(this.cur[i] - first[0] * this.ref[i] - first[1])))]++;
      n++;
    }
    const sigma = Math.max(1, 1.4826 * median(hist, n));
    return this.solve(Math.max(3 * sigma, 8), first[0], first[1]) ?? first;
  }

  private solve(maxResidual: number, a0: number, b0: number): [number, number] | null {
    let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (let i = 0; i < this.cur.length; i++) {
      if (!this.usable(i)) continue;
      const x = this.ref[i], y = this.cur[i];
      if (Math.abs(y - a0 * x - b0) > maxResidual) continue;
      n++;
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    if (n < Math.max(16, 0.2 * this.maskCount)) return null;
    const mx = sx / n, my = sy / n;
    const vx = sxx / n - mx * mx;
    // A flat zone (little spread in the reference) shows gain as an offset: fit the offset only.
    let a = vx > 25 ? (sxy / n - mx * my) / vx : 1;
    a = Math.min(4, Math.max(0.25, a));
    return [a, my - a * mx];
  }

  private classify(a: number, b: number, ts: number): void {
    const { rw, rh, cur, ref, eI, eG, hist } = this;
    // Residuals of intensity and of gradient (central differences, clamped to the rectangle).
    hist.fill(0);
    let n = 0;
    for (let y = 0; y < rh; y++) {
      const ya = y > 0 ? y - 1 : y, yb = y < rh - 1 ? y + 1 : y;
      for (let x = 0; x < rw; x++) {
        const i = y * rw + x;
        if (!this.inMask[i]) continue;
        const xa = x > 0 ? x - 1 : x, xb = x < rw - 1 ? x + 1 : x;
        eI[i] = Math.abs(cur[i] - a * ref[i] - b);
        const gx = cur[y * rw + xb] - cur[y * rw + xa] - a * (ref[y * rw + xb] - ref[y * rw + xa]);
        const gy = cur[yb * rw + x] - cur[ya * rw + x] - a * (ref[yb * rw + x] - ref[ya * rw + x]);
        eG[i] = Math.abs(gx) + Math.abs(gy);
        if (this.usable(i)) {
          hist[Math.min(511, Math.round(eG[i]))]++;
          n++;
        }
      }
    }
    const sG = Math.max(1, 1.4826 * median(hist, n));
    hist.fill(0);
    for (let i = 0; i < cur.length; i++) if (this.usable(i)) hist[Math.min(255, Math.round(eI[i]))]++;
    const sI = Math.max(1, 1.4826 * median(hist, n));
    const s = this.o.sensitivity;
    const k = 3 + 3 * (1 - s);
    const tI = Math.max(k * sI, 6 + 14 * (1 - s));
    const tG = Math.max(k * sG, 2 * (6 + 14 * (1 - s)));

    this.nValid.fill(0);
    this.nChanged.fill(0);
    this.holdDiff.fill(0);
    for (let i = 0; i < cur.length; i++) {
      if (!this.inMask[i] || cur[i] <= 2 || cur[i] >= 253) continue;
      const c = this.cellOf[i];
      this.nValid[c]++;
      if (eI[i] > tI || eG[i] > tG) this.nChanged[c]++;
      if (this.since[c] > 0) this.holdDiff[c] += Math.abs((cur[i] - b) / a - this.hold[i]);
    }

    const alpha = 1 - Math.exp(-Math.max(0, ts - this.lastTs) / 1000 / Math.max(1, this.o.learnS));
    const persist = this.o.persistS * 1000;
    for (let c = 0; c < this.cells; c++) {
      const nv = this.nValid[c];
      if (nv < 3) continue; // outside the zone, or saturated: no evidence either way
      if (this.nChanged[c] < CELL_CHANGED * nv) {
        // Looks like the reference again: two such frames in a row end the candidate.
        this.clean[c] = Math.min(255, this.clean[c] + 1);
        if (this.since[c] > 0 && this.clean[c] >= 2) this.clear(c);
        continue;
      }
      this.clean[c] = 0;
      if (this.since[c] === 0) {
        this.startCandidate(c, a, b, ts);
        continue;
      }
      this.seen[c] = Math.min(65535, this.seen[c] + 1);
      if (this.holdDiff[c] / nv <= (0.8 * tI) / a) {
        // Looks as it did: the same thing is still there.
        this.hits[c] = Math.min(65535, this.hits[c] + 1);
        this.missed[c] = 0;
        if (!this.stat[c] && ts - this.since[c] >= persist && this.hits[c] >= 0.6 * this.seen[c]) this.stat[c] = 1;
      } else if (this.hits[c] <= 1 || ++this.missed[c] > MAX_MISSED) {
        // A look never seen twice is a thing passing: follow the new look. A confirmed look
        // survives a few frames of something passing in front of it.
        this.startCandidate(c, a, b, ts);
      }
    }
    // Learn slowly where nothing is flagged; also outside the mask, for the gradients.
    for (let i = 0; i < cur.length; i++) {
      const c = this.cellOf[i];
      if (this.since[c] === 0 && cur[i] > 2 && cur[i] < 253) ref[i] += alpha * ((cur[i] - b) / a - ref[i]);
    }
    if (this.o.absorbS > 0) {
      const limit = persist + this.o.absorbS * 1000;
      for (let c = 0; c < this.cells; c++) if (this.stat[c] && ts - this.since[c] >= limit) this.absorb(c);
    }
  }

  private startCandidate(c: number, a: number, b: number, ts: number): void {
    this.since[c] = ts;
    this.stat[c] = 0;
    this.missed[c] = 0;
    this.hits[c] = 1;
    this.seen[c] = 1;
    this.forCell(c, (i) => (this.hold[i] = (this.cur[i] - b) / a));
  }

  private absorb(c: number): void {
    this.forCell(c, (i) => (this.ref[i] = this.hold[i]));
    this.clear(c);
  }

  private clear(c: number): void {
    this.since[c] = 0;
    this.stat[c] = 0;
  }

  private forCell(c: number, f: (i: number) => void): void {
    const cx = (c % this.cw) * CELL, cy = Math.floor(c / this.cw) * CELL;
    for (let y = cy; y < Math.min(cy + CELL, this.rh); y++) for (let x = cx; x < Math.min(cx + CELL, this.rw); x++) f(y * this.rw + x);
  }

  /** Keeps the reference in the current light, so saturation tests stay meaningful. */
  private rebase(a: number, b: number): void {
    for (let i = 0; i < this.ref.length; i++) {
      this.ref[i] = Math.min(255, Math.max(0, a * this.ref[i] + b));
      this.hold[i] = a * this.hold[i] + b;
    }
  }

  private collect(): Region[] {
    let any = false;
    // A static cell stays reported through brief occlusions (missed <= MAX_MISSED).
    for (let c = 0; c < this.cells && !any; c++) any = this.stat[c] === 1;
    if (!any) return this.regions.length ? [] : this.regions;
    const isStatic = (c: number) => this.stat[c] === 1;
    const score = (c: number) => (this.nValid[c] ? this.nChanged[c] / this.nValid[c] : 0);
    // The zone pixels' extent; the bottom edge through the lowest pixels' centres, so the
    // box's foot point (where the rules look) lies inside the zone.
    const e = this.cellExtent;
    const cellBox = (cx: number, cy: number): Box => {
      const c = cy * this.cw + cx;
      return [e[4 * c] / this.lw, e[4 * c + 1] / this.lh, (e[4 * c + 2] + 1) / this.lw, (e[4 * c + 3] + 0.5) / this.lh];
    };
    return cellRegions(this.cw, this.cells, isStatic, score, cellBox, this.o.minArea, (c) => this.since[c]);
  }
}

/** Median of the values counted in an integer histogram. */
function median(hist: Int32Array, n: number): number {
  let acc = 0;
  for (let v = 0; v < hist.length; v++) {
    acc += hist[v];
    if (acc * 2 >= n) return v;
  }
  return hist.length - 1;
}
