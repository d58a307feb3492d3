/**
 * The zone's light, now against the reference: now ≈ a * reference + b, fitted over the
 * pixels that may be used (in the zone, not flagged, not saturated). Least squares alone
 * would follow a big new object, so it starts from the median difference (an offset,
 * robust to half the zone changing), fits the pixels near that, then refits without the
 * outliers of that first fit.
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

export class LightFit {
  private readonly hist = new Int32Array(512);

  /** Null when too little of the zone can be used to judge the light. */
  fit(cur: Float32Array, ref: Float32Array, usable: (i: number) => boolean, minPixels: number): [number, number] | null {
    const hist = this.hist;
    hist.fill(0);
    let n = 0;
    for (let i = 0; i < cur.length; i++) {
      if (!usable(i)) continue;
      hist[Math.min(511, Math.max(0, Math.round(cur[i] - ref[i] + 256)))]++;
      n++;
    }
    if (n < minPixels) return null;
    const offset = histMedian(hist, n) - 256;
    const first = solve(cur, ref, usable, 25, 1, offset, minPixels) ?? solve(cur, ref, usable, Infinity, 1, offset, minPixels);
    if (!first) return null;
    hist.fill(0);
    n = 0;
    for (let i = 0; i < cur.length; i++) {
      if (!usable(i)) continue;
      hist[Math.min(255, Math.round(Math.abs(cur[i] - first[0] * ref[i] - first[1])))]++;
      n++;
    }
    const sigma = Math.max(1, 1.4826 * histMedian(hist, n));
    return solve(cur, ref, usable, Math.max(3 * sigma, 8), first[0], first[1], minPixels) ?? first;
  }
}

function solve(cur: Float32Array, ref: Float32Array, usable: (i: number) => boolean, maxResidual: number, a0: number, b0: number, minPixels: number): [number, number] | null {
  let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < cur.length; i++) {
    if (!usable(i)) continue;
    const x = ref[i], y = cur[i];
    if (Math.abs(y - a0 * x - b0) > maxResidual) continue;
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  if (n < minPixels) return null;
  const mx = sx / n, my = sy / n;
  const vx = sxx / n - mx * mx;
  // A flat zone (little spread in the reference) shows a gain as an offset: fit the offset only.
  let a = vx > 25 ? (sxy / n - mx * my) / vx : 1;
  a = Math.min(4, Math.max(0.25, a));
  return [a, my - a * mx];
}
