/**
 * One frame of a zone against its reference brought into the frame's light (pred): which
 * pixels differ, and per cell how many, how its look compares with the look a candidate
 * remembered, and whether it changed like light or like a thing (structure.ts).
 *
 * A pixel differs when its intensity residual or its gradient residual (edges are what a
 * new object adds; gradients ignore offsets) is above k x the zone's own noise (median
 * absolute residual over the pixels that show the light, neither side saturated).
 */
import type { ZoneGrid } from './grid.ts';
import { histMedian, type ToneCurve } from './light.ts';
import { CellStructure } from './structure.ts';

export class CellChange {
  /** Per cell: usable pixels, differing pixels, and the remembered look's summed difference over holdN pixels. */
  nValid = new Int32Array(0);
  nChanged = new Int32Array(0);
  holdDiff = new Float32Array(0);
  holdN = new Int32Array(0);
  readonly structure = new CellStructure();
  /** Intensity threshold of this frame; texture a cell needs before its correlation counts. */
  tI = 0;
  relitStd = 4;
  private eI = new Float32Array(0);
  private eG = new Float32Array(0);
  private readonly hist = new Int32Array(512);
  private readonly histI = new Int32Array(512);

  /**
   * `lit`: pixels that show the light (unflagged); `hold` and `since`: candidates' looks
   * and per cell whether there is one; `sensitivity` 0..1 as in the settings.
   */
  measure(
    g: ZoneGrid,
    cur: Float32Array,
    pred: Float32Array,
    lit: Uint8Array,
    hold: Float32Array,
    since: Float64Array,
    light: ToneCurve,
    sensitivity: number,
  ): void {
    const { rw, rh, inMask, cellOf } = g;
    if (this.eI.length !== cur.length) {
      this.eI = new Float32Array(cur.length);
      this.eG = new Float32Array(cur.length);
    }
    if (this.nValid.length !== g.cells) {
      this.nValid = new Int32Array(g.cells);
      this.nChanged = new Int32Array(g.cells);
      this.holdDiff = new Float32Array(g.cells);
      this.holdN = new Int32Array(g.cells);
    }
    const { eI, eG, hist, histI } = this;
    // Residuals of intensity and of gradient (central differences, clamped to the rectangle).
    hist.fill(0);
    histI.fill(0);
    let n = 0;
    for (let y = 0; y < rh; y++) {
      const ya = y > 0 ? y - 1 : y,
        yb = y < rh - 1 ? y + 1 : y;
      for (let x = 0; x < rw; x++) {
        const i = y * rw + x;
        if (!inMask[i]) continue;
        const xa = x > 0 ? x - 1 : x,
          xb = x < rw - 1 ? x + 1 : x;
        const c = cur[i],
          p = pred[i];
        const e = (eI[i] = Math.abs(c - p));
        const gx = cur[y * rw + xb] - cur[y * rw + xa] - (pred[y * rw + xb] - pred[y * rw + xa]);
        const gy = cur[yb * rw + x] - cur[ya * rw + x] - (pred[yb * rw + x] - pred[ya * rw + x]);
        const eg = (eG[i] = Math.abs(gx) + Math.abs(gy));
        if (lit[i] && c > 4 && c < 251 && p > 4 && p < 251) {
          hist[eg >= 511 ? 511 : (eg + 0.5) | 0]++;
          histI[e >= 511 ? 511 : (e + 0.5) | 0]++;
          n++;
        }
      }
    }
    const sG = Math.max(1, 1.4826 * histMedian(hist, n));
    const sI = Math.max(1, 1.4826 * histMedian(histI, n));
    const k = 3 + 3 * (1 - sensitivity);
    const floor = 6 + 14 * (1 - sensitivity);
    const tI = (this.tI = Math.max(k * sI, floor));
    const tG = Math.max(k * sG, 2 * floor);
    this.relitStd = Math.max(4, 2 * sI);

    const { nValid, nChanged, holdDiff, holdN, structure } = this;
    nValid.fill(0);
    nChanged.fill(0);
    holdDiff.fill(0);
    holdN.fill(0);
    structure.clear(g.cells);
    for (let i = 0; i < cur.length; i++) {
      const q = cur[i];
      if (!inMask[i] || q <= 2 || q >= 253) continue;
      const c = cellOf[i];
      nValid[c]++;
      const edge = eG[i] > tG;
      if (edge || eI[i] > tI) nChanged[c]++;
      structure.add(c, pred[i], q, edge);
      // The remembered look, brought into the current light.
      if (since[c] > 0 && !Number.isNaN(hold[i])) {
        holdDiff[c] += Math.abs(q - light.at(hold[i]));
        holdN[c]++;
      }
    }
  }
}
