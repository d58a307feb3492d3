/**
 * Model-free "something was left here" for one zone. It learns a clean reference of the
 * zone (the per-pixel median of the first frames), then on each frame:
 *
 * 1. Light: fits a monotone tone curve now ≈ f(reference) over the zone's unflagged pixels
 *    (light.ts), so dusk, a gain, gamma or contrast change and clipping to black explain
 *    themselves away, dark and bright things alike. The reference stays in its own light
 *    (re-basing it onto a dark frame would clip it, and lose for good the dark things'
 *    detail that comes back with the light); the frame is compared with f(reference).
 * 2. Change: a pixel differs when its intensity or gradient residual is above the zone's
 *    own noise (change.ts). Saturated pixels count for nothing either way.
 * 3. Cells of 4x4 analysis pixels change when enough of their pixels do. A changed cell
 *    becomes a candidate and remembers what it looks like; it stays a candidate while it
 *    keeps looking the same (brief occlusions tolerated). Passers-by never look the same
 *    for long, so they restart or clear the candidate; a thing put down does not.
 * 4. A candidate that has looked the same for persist_s is static. Neighbouring static
 *    cells form one region, reported with its box. Cells that match the reference update
 *    it slowly (time constant learn_s); candidates never do, so a pile is not learnt away
 *    (unless absorb_s says so). A candidate hidden behind a person or a vehicle the models
 *    see (occluders) is neither confirmed nor restarted meanwhile: it keeps its age.
 */
import type { Box, Pt } from '../../zones/geometry.ts';
import { boxBlur3, type LumaFrame } from './luma.ts';
import { cellRegions, type Region } from './regions.ts';
import { CELL, ZoneGrid } from './grid.ts';
import { MIN_SLOPE, ToneCurve } from './light.ts';
import { CellChange } from './change.ts';

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
  readonly polygon: readonly Pt[];
  private readonly o: StaticChangeOptions;
  private g: ZoneGrid | null = null;
  private readonly light = new ToneCurve();
  // Reference (un-blurred), the candidates' remembered look (both in reference light; NaN
  // where the light squashed it), the reference in the current light, warm-up frames.
  private ref = new Float32Array(0);
  private pred = new Float32Array(0);
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
  // Per frame scratch: the frame before and after the blur, the reference in its light before the blur.
  private raw = new Float32Array(0);
  private cur = new Float32Array(0);
  private refNow = new Float32Array(0);
  private readonly change = new CellChange();
  private lastTs = 0;
  private regions: Region[] = [];
  /** Per pixel, 1 where it shows the light: in the zone and not flagged (clipped ones too: they show where f clips). */
  private lit = new Uint8Array(0);

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

  /**
   * Static regions after this frame (boxes normalised to the frame). `occluders`: boxes of
   * people and vehicles the models saw lately; a candidate behind one keeps its age.
   */
  process(l: LumaFrame, ts: number, occluders: readonly Box[] = []): readonly Region[] {
    if (!this.g || l.width !== this.g.lw || l.height !== this.g.lh) this.layout(l.width, l.height);
    const g = this.g!;
    if (!g.maskCount) return this.regions;
    for (let y = 0; y < g.rh; y++) {
      const src = (y + g.y0) * l.width + g.x0;
      this.raw.set(l.data.subarray(src, src + g.rw), y * g.rw);
    }
    boxBlur3(this.raw, this.cur, g.rw, g.rh);
    if (this.warmCount < WARM_FRAMES) {
      this.learn();
      this.lastTs = ts;
      return this.regions;
    }
    const { lit, since, refNow, ref, light } = this;
    const { inMask, cellOf } = g;
    for (let i = 0; i < lit.length; i++) lit[i] = inMask[i] & (since[cellOf[i]] === 0 ? 1 : 0);
    if (!light.fit(this.raw, ref, lit, Math.max(16, 0.2 * g.maskCount))) return this.regions; // too little of the zone visible to judge the light: skip
    // The reference in this light, blurred as the frame was: the light acts before the blur.
    for (let i = 0; i < ref.length; i++) refNow[i] = light.at(ref[i]);
    boxBlur3(refNow, this.pred, g.rw, g.rh);
    this.change.measure(g, this.cur, this.pred, lit, this.hold, since, light, this.o.sensitivity);
    this.step(ts, occluders);
    this.learnSlowly(ts);
    this.lastTs = ts;
    this.regions = this.collect();
    return this.regions;
  }

  private layout(lw: number, lh: number): void {
    const g = (this.g = new ZoneGrid(this.polygon, lw, lh));
    const n = g.rw * g.rh;
    for (const k of ['ref', 'pred', 'hold', 'raw', 'cur', 'refNow'] as const) this[k] = new Float32Array(n);
    this.warm = Array.from({ length: WARM_FRAMES }, () => new Float32Array(n));
    this.lit = new Uint8Array(n);
    this.since = new Float64Array(g.cells);
    this.seen = new Uint16Array(g.cells);
    this.hits = new Uint16Array(g.cells);
    this.missed = new Uint8Array(g.cells);
    this.clean = new Uint8Array(g.cells);
    this.stat = new Uint8Array(g.cells);
    this.reset();
  }

  /** Warm-up: the reference is the per-pixel median of the first frames (passers-by drop out). */
  private learn(): void {
    this.warm[this.warmCount++].set(this.raw);
    if (this.warmCount < WARM_FRAMES) return;
    const v = new Float32Array(WARM_FRAMES);
    for (let i = 0; i < this.ref.length; i++) {
      for (let k = 0; k < WARM_FRAMES; k++) v[k] = this.warm[k][i];
      v.sort();
      this.ref[i] = v[WARM_FRAMES >> 1];
    }
  }

  /**
   * The reference follows slow changes where nothing is flagged (outside the zone too: the
   * gradients need it), brought back into its own light, and only where the light leaves
   * the levels apart (not where it clips them together).
   */
  private learnSlowly(ts: number): void {
    const alpha = 1 - Math.exp(-Math.max(0, ts - this.lastTs) / 1000 / Math.max(1, this.o.learnS));
    const { ref, raw, since, light } = this;
    const cellOf = this.g!.cellOf;
    for (let i = 0; i < ref.length; i++) {
      if (since[cellOf[i]] !== 0) continue;
      const back = light.back(raw[i]);
      if (!Number.isNaN(back) && light.slope(ref[i]) >= MIN_SLOPE) ref[i] += alpha * (back - ref[i]);
    }
  }

  /** Each cell's state after this frame. */
  private step(ts: number, occluders: readonly Box[]): void {
    const { nValid, nChanged, holdDiff, holdN, structure, tI, relitStd } = this.change;
    const persist = this.o.persistS * 1000;
    const absorbAfter = this.o.absorbS > 0 ? persist + this.o.absorbS * 1000 : Infinity;
    const relitNcc = 0.85 + 0.1 * this.o.sensitivity;
    for (let c = 0; c < this.g!.cells; c++) {
      const nv = nValid[c];
      if (nv < 3) continue; // outside the zone, or saturated: no evidence either way
      if (nChanged[c] < CELL_CHANGED * nv || structure.relit(c, relitStd, relitNcc)) {
        // Looks like the reference again (maybe in another light): two such frames in a row end the candidate.
        this.clean[c] = Math.min(255, this.clean[c] + 1);
        if (this.since[c] > 0 && this.clean[c] >= 2) this.clear(c);
        continue;
      }
      this.clean[c] = 0;
      if (this.since[c] === 0) {
        this.startCandidate(c, ts);
        continue;
      }
      if (holdN[c] < 3) {
        // The light squashed the look when it was remembered: remember it now it shows.
        this.remember(c);
        continue;
      }
      const same = holdDiff[c] / holdN[c] <= 0.8 * tI;
      // Someone standing in front of it: no evidence either way, and it keeps its age.
      if (!same && occluders.length && this.hidden(c, occluders)) continue;
      this.seen[c] = Math.min(65535, this.seen[c] + 1);
      if (same) {
        // Looks as it did: the same thing is still there.
        this.hits[c] = Math.min(65535, this.hits[c] + 1);
        this.missed[c] = 0;
        if (!this.stat[c] && ts - this.since[c] >= persist && this.hits[c] >= MIN_HIT_RATE * this.seen[c]) this.stat[c] = 1;
        if (this.stat[c] && ts - this.since[c] >= absorbAfter) this.absorb(c);
      } else if (this.hits[c] <= 1 || ++this.missed[c] > MAX_MISSED) {
        // A look never seen twice is a thing passing: follow the new look. A confirmed look
        // survives a few frames of something passing in front of it.
        this.startCandidate(c, ts);
      }
    }
  }

  /** Whether the cell's centre lies in one of the occluders' boxes. */
  private hidden(c: number, occluders: readonly Box[]): boolean {
    const g = this.g!;
    const x = (g.x0 + (c % g.cw) * CELL + CELL / 2) / g.lw,
      y = (g.y0 + Math.floor(c / g.cw) * CELL + CELL / 2) / g.lh;
    return occluders.some((b) => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]);
  }

  private startCandidate(c: number, ts: number): void {
    this.since[c] = ts;
    this.stat[c] = 0;
    this.missed[c] = 0;
    this.hits[c] = 1;
    this.seen[c] = 1;
    this.remember(c);
  }

  /** The cell's look now, in reference light. */
  private remember(c: number): void {
    this.g!.forCell(c, (i) => (this.hold[i] = this.light.back(this.cur[i])));
  }

  private absorb(c: number): void {
    this.g!.forCell(c, (i) => {
      const back = this.light.back(this.raw[i]);
      this.ref[i] = !Number.isNaN(back) ? back : this.light.inv[Math.max(0, Math.min(256, Math.round(this.raw[i])))];
    });
    this.clear(c);
  }

  private clear(c: number): void {
    this.since[c] = 0;
    this.stat[c] = 0;
  }

  private collect(): Region[] {
    const g = this.g!;
    let any = false;
    for (let c = 0; c < g.cells && !any; c++) any = this.stat[c] === 1;
    if (!any) return this.regions.length ? [] : this.regions;
    // A static cell stays reported through brief occlusions (up to MAX_MISSED frames).
    return cellRegions(
      g.cw,
      g.cells,
      (c) => this.stat[c] === 1,
      (c) => (this.change.nValid[c] ? this.change.nChanged[c] / this.change.nValid[c] : 0),
      (cx, cy) => g.cellBox(cx, cy),
      this.o.minArea,
      (c) => this.since[c],
      // A region whose cells only changed smoothly (no edge added or hidden) is light.
      (c) => this.change.structure.edged(c),
    );
  }
}
