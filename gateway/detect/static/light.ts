/**
 * The zone's light, now against the reference, as a tone curve: now ≈ f(reference), f
 * monotone but otherwise free. Dusk, a shower, a gain or gamma change, the camera's own
 * exposure and its clipping to black or white all map each grey level of the scene to
 * one grey level now, but not along a straight line: a dark coat clips to black while the
 * pavement beside it only darkens, so no single gain and offset explains both, and what
 * is left over looks like a change exactly where the picture has dark (or bright) things.
 *
 * The fit: the zone's usable pixels binned by reference level (8 levels a bin), the median
 * of the current level in each bin (robust to a new object taking part of the zone, as
 * long as it does not take most of the pixels of a grey level), made non-decreasing
 * (weighted pool-adjacent-violators), interpolated into a 257-entry table. Its inverse
 * maps the current frame back into the reference's light, where the reference learns and
 * where a candidate's look is remembered; levels the curve squashes (clipped to black or
 * white) have no inverse and are marked so.
 */

/** Median of the values counted in an integer histogram of `n` values. */
export function histMedian(hist: Int32Array, n: number): number {
  let acc = 0;
  for (let v = 0; v < hist.length; v++) {
    acc += hist[v];
    if (acc * 2 >= n) return v;
  }
  return hist.length - 1;
}

const BIN = 8;
const BINS = 256 / BIN;
const SAMPLE = 2000;
/** Below this slope a level of the curve cannot be told from its neighbours: no inverse. */
export const MIN_SLOPE = 0.2;

export class ToneCurve {
  /** f at reference levels 0..256 (current light). */
  readonly lut = new Float32Array(257);
  /** f⁻¹ at current levels 0..256 (reference light), and whether it is meaningful there. */
  readonly inv = new Float32Array(257);
  readonly invOk = new Uint8Array(257);
  private readonly hist = new Int32Array(BINS * 256);
  private readonly residuals = new Int32Array(256);
  // The samples: histogram key (bin x 256 + current level), reference and current level,
  // and the first fit's residual.
  private key = new Int32Array(0);
  private sr = new Float32Array(0);
  private sc = new Float32Array(0);
  private res = new Float32Array(0);
  private readonly count = new Int32Array(BINS);
  private readonly sumRef = new Float64Array(BINS);
  private readonly kx = new Float64Array(BINS);
  private readonly ky = new Float64Array(BINS);
  private readonly kw = new Float64Array(BINS);
  private readonly spread = new Float64Array(BINS);
  private readonly q = new Float64Array(3);

  /** f(r), interpolated. */
  at(r: number): number {
    const v = r <= 0 ? 0 : Math.min(r, 256);
    const k = v | 0;
    const lut = this.lut;
    return k >= 256 ? lut[256] : lut[k] + (v - k) * (lut[k + 1] - lut[k]);
  }

  /** f⁻¹(c), interpolated; NaN where the curve squashes that level. */
  back(c: number): number {
    const v = c <= 0 ? 0 : Math.min(c, 256);
    const k = v | 0;
    if (k >= 256) return this.invOk[256] ? this.inv[256] : NaN;
    if (!this.invOk[k] || !this.invOk[k + 1]) return NaN;
    return this.inv[k] + (v - k) * (this.inv[k + 1] - this.inv[k]);
  }

  /** Slope of f at reference level r. */
  slope(r: number): number {
    const k = r <= 0 ? 0 : r >= 255 ? 255 : r | 0;
    return this.lut[k + 1] - this.lut[k];
  }

  /**
   * Fits the curve over the pixels marked in `use`, then again without the first fit's
   * outliers (something passing or moving takes one side of a few bins). False when too
   * little of the zone can be used to judge the light (the curve is then left as it was).
   */
  fit(cur: Float32Array, ref: Float32Array, use: Uint8Array, minPixels: number): boolean {
    let n = 0;
    for (let i = 0; i < use.length; i++) n += use[i];
    if (n < minPixels) return false;
    // A few thousand pixels place 32 medians well enough: a big zone is sampled (every
    // step-th usable pixel), and the samples are gathered once for both fits.
    const step = n > 2 * SAMPLE ? n / SAMPLE : 1;
    const most = step > 1 ? SAMPLE + 1 : n;
    if (this.key.length < most) this.grow(most);
    const { key, sr, sc, res } = this;
    let k = 0;
    for (let i = 0, seen = 0, next = 0; i < use.length; i++) {
      if (!use[i]) continue;
      if (seen++ < next) continue;
      next += step;
      const r = ref[i] <= 0 ? 0 : Math.min(ref[i], 255);
      const c = cur[i] <= 0 ? 0 : Math.min(cur[i], 255);
      sr[k] = r;
      sc[k] = c;
      key[k++] = ((r / BIN) | 0) * 256 + ((c + 0.5) | 0);
    }
    n = k;
    if (!this.fitOnce(n, Infinity)) return false;
    const h = this.residuals;
    h.fill(0);
    for (let j = 0; j < n; j++) {
      const e = (res[j] = Math.abs(sc[j] - this.at(sr[j])));
      h[e >= 255 ? 255 : (e + 0.5) | 0]++;
    }
    const sigma = 1.4826 * histMedian(h, n);
    this.fitOnce(n, Math.max(3 * sigma, 8));
    return true;
  }

  private grow(n: number): void {
    this.key = new Int32Array(n);
    this.sr = new Float32Array(n);
    this.sc = new Float32Array(n);
    this.res = new Float32Array(n);
  }

  /** One fit over the first n samples whose residual (res, when maxResidual is finite) is within maxResidual. */
  private fitOnce(total: number, maxResidual: number): boolean {
    const { hist, count, sumRef, kx, ky, kw, key, sr, res } = this;
    const trim = maxResidual < Infinity;
    hist.fill(0);
    count.fill(0);
    sumRef.fill(0);
    let n = 0;
    for (let j = 0; j < total; j++) {
      if (trim && res[j] > maxResidual) continue;
      const b = key[j] >> 8;
      hist[key[j]]++;
      count[b]++;
      sumRef[b] += sr[j];
      n++;
    }
    const minPixels = 0.5 * total;
    if (n < minPixels) return false;
    // Knots: bins holding enough pixels to have a meaningful median, and one population:
    // a bin whose levels spread far wider than the others' is a mixture (something new on
    // a few pixels of a rare grey level), and the curve is interpolated across it instead.
    const minBin = Math.max(8, 0.01 * n);
    const spread = this.spread;
    let m = 0;
    for (let b = 0; b < BINS; b++) {
      if (count[b] < minBin) continue;
      kx[m] = sumRef[b] / count[b];
      const q = binQuartiles(hist, b * 256, count[b], this.q);
      ky[m] = q[1];
      kw[m] = count[b];
      spread[m] = q[2] - q[0];
      m++;
    }
    if (!m) return false;
    const sorted = spread.slice(0, m).sort();
    const wide = Math.max(12, 3 * sorted[m >> 1]);
    let k = 0;
    for (let j = 0; j < m; j++) {
      if (spread[j] > wide) continue;
      kx[k] = kx[j];
      ky[k] = ky[j];
      kw[k] = kw[j];
      k++;
    }
    m = k;
    if (!m) return false;
    m = poolAdjacentViolators(kx, ky, kw, m);
    this.table(m);
    return true;
  }

  /** The curve through the knots, continued past the end knots with the knots' overall slope. */
  private table(m: number): void {
    const { kx, ky, kw, lut } = this;
    let sw = 0,
      sx = 0,
      sy = 0,
      sxx = 0,
      sxy = 0;
    for (let j = 0; j < m; j++) {
      sw += kw[j];
      sx += kw[j] * kx[j];
      sy += kw[j] * ky[j];
      sxx += kw[j] * kx[j] * kx[j];
      sxy += kw[j] * kx[j] * ky[j];
    }
    const vx = sxx / sw - (sx / sw) ** 2;
    const s = vx > 25 ? Math.min(4, Math.max(0.25, (sxy / sw - (sx / sw) * (sy / sw)) / vx)) : 1;
    let j = 0;
    for (let r = 0; r <= 256; r++) {
      while (j < m && kx[j] < r) j++;
      let y: number;
      if (j === 0) y = ky[0] - s * (kx[0] - r);
      else if (j === m) y = ky[m - 1] + s * (r - kx[m - 1]);
      else y = ky[j - 1] + ((r - kx[j - 1]) * (ky[j] - ky[j - 1])) / (kx[j] - kx[j - 1]);
      lut[r] = y <= 0 ? 0 : Math.min(y, 255);
    }
    this.invert();
  }

  private invert(): void {
    const { lut, inv, invOk } = this;
    let r = 0;
    for (let v = 0; v <= 256; v++) {
      // The first segment of f reaching v.
      while (r < 256 && lut[r + 1] < v) r++;
      const lo = lut[r],
        hi = lut[Math.min(256, r + 1)];
      inv[v] = hi > lo ? Math.min(256, r + Math.max(0, v - lo) / (hi - lo)) : r;
      // Squashed: a flat stretch of the curve, or a level at its clipped ends.
      invOk[v] = hi - lo >= MIN_SLOPE && v > lut[0] + 2 && v < lut[256] - 2 ? 1 : 0;
    }
  }
}

/** Quartiles of one bin's current levels, each interpolated within the level it falls in. */
function binQuartiles(hist: Int32Array, at: number, n: number, out: Float64Array): Float64Array {
  let acc = 0,
    k = 0;
  out.fill(255);
  for (let v = 0; v < 256 && k < 3; v++) {
    const h = hist[at + v];
    if (!h) continue;
    while (k < 3 && acc + h >= ((k + 1) * n) / 4) {
      out[k] = v - 0.5 + (((k + 1) * n) / 4 - acc) / h;
      k++;
    }
    acc += h;
  }
  return out;
}

/** Makes ky non-decreasing in place (weighted means of violating runs); returns the knot count. */
function poolAdjacentViolators(kx: Float64Array, ky: Float64Array, kw: Float64Array, m: number): number {
  let top = 0;
  for (let j = 0; j < m; j++) {
    kx[top] = kx[j];
    ky[top] = ky[j];
    kw[top] = kw[j];
    top++;
    while (top > 1 && ky[top - 2] > ky[top - 1]) {
      const w = kw[top - 2] + kw[top - 1];
      kx[top - 2] = (kx[top - 2] * kw[top - 2] + kx[top - 1] * kw[top - 1]) / w;
      ky[top - 2] = (ky[top - 2] * kw[top - 2] + ky[top - 1] * kw[top - 1]) / w;
      kw[top - 2] = w;
      top--;
    }
  }
  return top;
}
