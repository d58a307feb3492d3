/**
 * Model-free "something was left here" for one zone. It learns a clean reference of the
 * zone (the per-pixel median of the first frames), then on each frame:
 *
 * 1. Light: fits now ≈ a * reference + b over the zone's unflagged pixels (light.ts), so a
 *    global brightness or gain change explains itself away. The reference is re-based
 *    onto the current light as it drifts.
 * 2. Change: a pixel differs when its intensity residual or its gradient residual (edges
 *    are what a new object adds; gradients ignore offsets) is above k x the zone's own
 *    noise (median absolute residual). Saturated pixels count for nothing either way.
 * 3. Cells of 4x4 analysis pixels change when enough of their pixels do. A changed cell
 *    becomes a candidate and remembers what it looks like; it stays a candidate while it
 *    keeps looking the same (brief occlusions tolerated). Passers-by never look the same
 *    for long, so they restart or clear the candidate; a thing put down does not.
 * 4. A candidate that has looked the same for persist_s is static. Neighbouring static
 *    cells form one region, reported with its box. Cells that match the reference update
 *    it slowly (time constant learn_s); candidates never do, so a pile is not learnt away
 *    (unless absorb_s says so).
 */
import type { Pt } from '../../zones/geometry.ts';
import type { LumaFrame } from './luma.ts';
import { cellRegions, type Region } from './regions.ts';
import { ZoneGrid } from './grid.ts';
import { LightFit, histMedian } from './light.ts';

export interface StaticChangeOptions {
  /** Seconds a change must stay, looking the same, before it is reported. */
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

const WARM_FRAMES = 5;
/** Frames a confirmed look may be hidden (someone walking past in front of it). */
const MAX_MISSED = 3;
/** Share of a cell's pixels that must differ for the cell to differ. */
const CELL_CHANGED = 0.3;
/** A candidate must have looked the same in this share of its frames to become static. */
const MIN_HIT_RATE = 0.6;

export class ZoneWatcher {
  readonly zone: string;
  private readonly polygon: readonly Pt[];
  private readonly o: StaticChangeOptions;
  private g: ZoneGrid | null = null;
  private readonly light = new LightFit();
  // Reference, the candidates' remembered look (both in reference light), warm-up frames.
  private ref = new Float32Array(0);
  private hold = new Float32Array(0);
  private warm: Float32Array[] = [];
  private warmCount = 0;
  // Per cell: candidate since (0: none), frames seen / matching, misses and clean frames in a row.
  private since = new Float64Array(0);
  private seen = new Uint16Array(0);
  private hits = new Uint16Array(0);
  private missed = new Uint8Array(0);
  private clean = new Uint8Array(0);
  /** 1 once the cell has shown the same new thing for persist_s. */
  private stat = new Uint8Array(0);
  // Per frame scratch.
  private cur = new Float32Array(0);
  private eI = new Float32Array(0);
  private eG = new Float32Array(0);
  private nValid = new Int32Array(0);
  private nChanged = new Int32Array(0);
  private holdDiff = new Float32Array(0);
  private readonly hist = new Int32Array(512);
  private lastTs = 0;
  private regions: Region[] = [];
  private readonly usable = (i: number): boolean => {
    const c = this.cur[i], r = this.ref[i];
    return this.g!.inMask[i] === 1 && this.since[this.g!.cellOf[i]] === 0 && c > 4 && c < 251 && r > 4 && r < 251;
  };

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
    if (!this.g || l.width !== this.g.lw || l.height !== this.g.lh) this.layout(l.width, l.height);
    const g = this.g!;
    if (!g.maskCount) return this.regions;
    for (let y = 0; y < g.rh; y++) {
      const src = (y + g.y0) * l.width + g.x0;
      this.cur.set(l.data.subarray(src, src + g.rw), y * g.rw);
    }
    if (this.warmCount < WARM_FRAMES) {
      this.learn();
      this.lastTs = ts;
      return this.regions;
    }
    const fit = this.light.fit(this.cur, this.ref, this.usable, Math.max(16, 0.2 * g.maskCount));
    if (!fit) return this.regions; // too little of the zone visible to judge the light: skip
    const [a, b] = fit;
    this.classify(a, b, ts);
    this.lastTs = ts;
    if (Math.abs(a - 1) > 0.03 || Math.abs(b) > 3) this.rebase(a, b);
    this.regions = this.collect();
    return this.regions;
  }

  private layout(lw: number, lh: number): void {
    const g = (this.g = new ZoneGrid(this.polygon, lw, lh));
    const n = g.rw * g.rh;
    for (const k of ['ref', 'hold', 'cur', 'eI', 'eG'] as const) this[k] = new Float32Array(n);
    this.warm = Array.from({ length: WARM_FRAMES }, () => new Float32Array(n));
    this.since = new Float64Array(g.cells);
    this.seen = new Uint16Array(g.cells);
    this.hits = new Uint16Array(g.cells);
    this.missed = new Uint8Array(g.cells);
    this.clean = new Uint8Array(g.cells);
    this.stat = new Uint8Array(g.cells);
    this.nValid = new Int32Array(g.cells);
    this.nChanged = new Int32Array(g.cells);
    this.holdDiff = new Float32Array(g.cells);
    this.reset();
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

  /** Per-pixel residuals, the zone's noise, then per-cell change and the cells' states. */
  private classify(a: number, b: number, ts: number): void {
    const g = this.g!;
    const { rw, rh } = g;
    const { cur, ref, eI, eG, hist } = this;
    // Residuals of intensity and of gradient (central differences, clamped to the rectangle).
    hist.fill(0);
    let n = 0;
    for (let y = 0; y < rh; y++) {
      const ya = y > 0 ? y - 1 : y, yb = y < rh - 1 ? y + 1 : y;
      for (let x = 0; x < rw; x++) {
        const i = y * rw + x;
        if (!g.inMask[i]) continue;
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
    const sG = Math.max(1, 1.4826 * histMedian(hist, n));
    hist.fill(0);
    for (let i = 0; i < cur.length; i++) if (this.usable(i)) hist[Math.min(255, Math.round(eI[i]))]++;
    const sI = Math.max(1, 1.4826 * histMedian(hist, n));
    const s = this.o.sensitivity;
    const k = 3 + 3 * (1 - s);
    const floor = 6 + 14 * (1 - s);
    const tI = Math.max(k * sI, floor);
    const tG = Math.max(k * sG, 2 * floor);

    this.nValid.fill(0);
    this.nChanged.fill(0);
    this.holdDiff.fill(0);
    for (let i = 0; i < cur.length; i++) {
      if (!g.inMask[i] || cur[i] <= 2 || cur[i] >= 253) continue;
      const c = g.cellOf[i];
      this.nValid[c]++;
      if (eI[i] > tI || eG[i] > tG) this.nChanged[c]++;
      if (this.since[c] > 0) this.holdDiff[c] += Math.abs((cur[i] - b) / a - this.hold[i]);
    }
    this.step(a, b, ts, tI);
    // Learn slowly where nothing is flagged (outside the zone too: the gradients need it).
    const alpha = 1 - Math.exp(-Math.max(0, ts - this.lastTs) / 1000 / Math.max(1, this.o.learnS));
    for (let i = 0; i < cur.length; i++) {
      if (this.since[g.cellOf[i]] === 0 && cur[i] > 2 && cur[i] < 253) ref[i] += alpha * ((cur[i] - b) / a - ref[i]);
    }
  }

  /** Each cell's state after this frame. */
  private step(a: number, b: number, ts: number, tI: number): void {
    const persist = this.o.persistS * 1000;
    const absorbAfter = this.o.absorbS > 0 ? persist + this.o.absorbS * 1000 : Infinity;
    for (let c = 0; c < this.g!.cells; c++) {
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
        if (!this.stat[c] && ts - this.since[c] >= persist && this.hits[c] >= MIN_HIT_RATE * this.seen[c]) this.stat[c] = 1;
        if (this.stat[c] && ts - this.since[c] >= absorbAfter) this.absorb(c);
      } else if (this.hits[c] <= 1 || ++this.missed[c] > MAX_MISSED) {
        // A look never seen twice is a thing passing: follow the new look. A confirmed look
        // survives a few frames of something passing in front of it.
        this.startCandidate(c, a, b, ts);
      }
    }
  }

  private startCandidate(c: number, a: number, b: number, ts: number): void {
    this.since[c] = ts;
    this.stat[c] = 0;
    this.missed[c] = 0;
    this.hits[c] = 1;
    this.seen[c] = 1;
    this.g!.forCell(c, (i) => (this.hold[i] = (this.cur[i] - b) / a));
  }

  private absorb(c: number): void {
    this.g!.forCell(c, (i) => (this.ref[i] = this.hold[i]));
    this.clear(c);
  }

  private clear(c: number): void {
    this.since[c] = 0;
    this.stat[c] = 0;
  }

  /** Keeps the reference in the current light, so the saturation tests stay meaningful. */
  private rebase(a: number, b: number): void {
    for (let i = 0; i < this.ref.length; i++) {
      this.ref[i] = Math.min(255, Math.max(0, a * this.ref[i] + b));
      this.hold[i] = a * this.hold[i] + b;
    }
  }

  private collect(): Region[] {
    const g = this.g!;
    let any = false;
    for (let c = 0; c < g.cells && !any; c++) any = this.stat[c] === 1;
    if (!any) return this.regions.length ? [] : this.regions;
    // A static cell stays reported through brief occlusions (up to MAX_MISSED frames).
    return cellRegions(
      g.cw, g.cells,
      (c) => this.stat[c] === 1,
      (c) => (this.nValid[c] ? this.nChanged[c] / this.nValid[c] : 0),
      (cx, cy) => g.cellBox(cx, cy),
      this.o.minArea,
      (c) => this.since[c],
    );
  }
}
