/**
 * A small grayscale copy of each frame (128 px wide by default), made once per frame for
 * the model-free analysis. Each output pixel averages 2x2 samples spread over its block
 * of source pixels. It is not blurred here: a change of light must be undone before a
 * blur mixes levels, so each zone blurs (boxBlur3) what it needs. Buffers are reused;
 * they are reallocated only when the frame size changes.
 */
export class LumaFrame {
  width = 0;
  height = 0;
  /** Luma, 0..255, row-major. */
  data = new Float32Array(0);
  private srcW = -1;
  private srcH = -1;
  // Byte offsets of the two sample columns (x3) and rows (x row bytes) per output pixel.
  private xs = new Int32Array(0);
  private ys = new Int32Array(0);
  private readonly target: number;

  constructor(targetWidth = 128) {
    this.target = targetWidth;
  }

  update(rgb: Uint8Array, w: number, h: number): void {
    if (w !== this.srcW || h !== this.srcH) this.resize(w, h);
    const W = this.width,
      H = this.height,
      out = this.data,
      xs = this.xs,
      ys = this.ys;
    for (let y = 0; y < H; y++) {
      const r0 = ys[2 * y],
        r1 = ys[2 * y + 1];
      for (let x = 0; x < W; x++) {
        const c0 = xs[2 * x],
          c1 = xs[2 * x + 1];
        let sum = 0;
        for (let k = 0; k < 4; k++) {
          const o = (k < 2 ? r0 : r1) + (k & 1 ? c1 : c0);
          sum += 0.299 * rgb[o] + 0.587 * rgb[o + 1] + 0.114 * rgb[o + 2];
        }
        out[y * W + x] = sum / 4;
      }
    }
  }

  private resize(w: number, h: number): void {
    this.srcW = w;
    this.srcH = h;
    const W = Math.min(this.target, w);
    const H = Math.max(1, Math.round((h * W) / w));
    this.width = W;
    this.height = H;
    this.data = new Float32Array(W * H);
    this.xs = new Int32Array(2 * W);
    this.ys = new Int32Array(2 * H);
    const bx = w / W,
      by = h / H;
    for (let x = 0; x < W; x++) {
      this.xs[2 * x] = Math.min(w - 1, Math.floor((x + 0.25) * bx)) * 3;
      this.xs[2 * x + 1] = Math.min(w - 1, Math.floor((x + 0.75) * bx)) * 3;
    }
    for (let y = 0; y < H; y++) {
      this.ys[2 * y] = Math.min(h - 1, Math.floor((y + 0.25) * by)) * w * 3;
      this.ys[2 * y + 1] = Math.min(h - 1, Math.floor((y + 0.75) * by)) * w * 3;
    }
  }
}

/** 3x3 box blur of a W x H image, edges clamped: takes out compression noise. */
export function boxBlur3(src: Float32Array, out: Float32Array, W: number, H: number): void {
  for (let y = 0; y < H; y++) {
    const ya = y > 0 ? y - 1 : 0,
      yb = y < H - 1 ? y + 1 : H - 1;
    for (let x = 0; x < W; x++) {
      const xa = x > 0 ? x - 1 : 0,
        xb = x < W - 1 ? x + 1 : W - 1;
      out[y * W + x] =
        (src[ya * W + xa] +
          src[ya * W + x] +
          src[ya * W + xb] +
          src[y * W + xa] +
          src[y * W + x] +
          src[y * W + xb] +
          src[yb * W + xa] +
          src[yb * W + x] +
          src[yb * W + xb]) /
        9;
    }
  }
}
