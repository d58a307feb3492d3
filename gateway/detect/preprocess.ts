/**
 * Turns an interleaved RGB frame (already scaled by ffmpeg) into the model's planar
 * float input, in place, into one buffer reused for every frame. Letterboxing puts the
 * picture top-left; the padding is written only when a slot's picture size changes.
 *
 * A camera that runs several models is scaled once, for the largest; a smaller model
 * (or a stretched one) then resamples here, bilinearly, from tables computed once per
 * frame size. That is allowed only with `resample` (the runtime turns it on); otherwise
 * a frame larger than the input is refused, since the capture should have scaled it.
 */
export interface InputSpec {
  width: number;
  height: number;
  channels: 'rgb' | 'bgr';
  mean: readonly number[];
  std: readonly number[];
  pad: number;
  resize?: 'letterbox' | 'stretch';
}

interface Resampler {
  pw: number;
  ph: number;
  x0: Int32Array; // byte offset of the left tap in a source row
  dx: Int32Array; // 3, or 0 at the right edge
  fx: Float32Array;
  y0: Int32Array; // byte offset of the upper source row
  dy: Int32Array; // one row, or 0 at the bottom edge
  fy: Float32Array;
}

export class Preprocessor {
  readonly data: Float32Array;
  /** The picture's size inside the input after the last fill of each slot. */
  readonly pictureW: Int32Array;
  readonly pictureH: Int32Array;
  private readonly spec: InputSpec;
  private readonly resample: boolean;
  private readonly scale = new Float32Array(3); // per output plane
  private readonly offset = new Float32Array(3);
  private readonly srcChannel: Int32Array; // which RGB byte feeds each plane
  private readonly tables = new Map<string, Resampler>();

  constructor(spec: InputSpec, batch = 1, opts: { resample?: boolean } = {}) {
    this.spec = spec;
    this.resample = opts.resample ?? false;
    this.data = new Float32Array(batch * 3 * spec.width * spec.height);
    this.pictureW = new Int32Array(batch).fill(-1);
    this.pictureH = new Int32Array(batch).fill(-1);
    this.srcChannel = Int32Array.from(spec.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2]);
    for (let p = 0; p < 3; p++) {
      // The mean and std in a manifest are given in the model's own channel order.
      this.scale[p] = 1 / spec.std[p];
      this.offset[p] = -spec.mean[p] / spec.std[p];
    }
  }

  /** Fills batch slot `slot` from `rgb` (w x h x 3 bytes). */
  fill(rgb: Uint8Array, w: number, h: number, slot = 0): void {
    const W = this.spec.width;
    const H = this.spec.height;
    const stretch = this.spec.resize === 'stretch';
    const direct = stretch ? w === W && h === H : w <= W && h <= H;
    if (!direct && !this.resample) {
      throw new Error(
        stretch
          ? `frame ${w}x${h} is not the model input ${W}x${H}; the capture must stretch it`
          : `frame ${w}x${h} is larger than the model input ${W}x${H}; the capture must scale it`,
      );
    }
    const rs = direct ? null : this.resampler(w, h);
    const pw = rs ? rs.pw : w;
    const ph = rs ? rs.ph : h;
    const plane = W * H;
    const base = slot * 3 * plane;
    const d = this.data;
    const ow = this.pictureW[slot],
      oh = this.pictureH[slot];
    if (pw !== ow || ph !== oh) {
      // Pad only what the last picture covered and this one does not (cameras of different
      // shapes sharing a model alternate sizes; the rest of the padding is still there).
      for (let p = 0; p < 3; p++) {
        const v = this.spec.pad * this.scale[p] + this.offset[p];
        const o = base + p * plane;
        if (ow < 0) {
          d.fill(v, o, o + plane);
          continue;
        }
        if (ow > pw) for (let y = 0; y < Math.min(oh, ph); y++) d.fill(v, o + y * W + pw, o + y * W + ow);
        if (oh > ph) for (let y = ph; y < oh; y++) d.fill(v, o + y * W, o + y * W + ow);
      }
      this.pictureW[slot] = pw;
      this.pictureH[slot] = ph;
    }
    if (rs) return this.fillResampled(rgb, rs, base, plane);
    const s0 = this.scale[0],
      s1 = this.scale[1],
      s2 = this.scale[2];
    const o0 = this.offset[0],
      o1 = this.offset[1],
      o2 = this.offset[2];
    const c0 = this.srcChannel[0],
      c1 = this.srcChannel[1],
      c2 = this.srcChannel[2];
    const p0 = base,
      p1 = base + plane,
      p2 = base + 2 * plane;
    for (let y = 0; y < h; y++) {
      let src = y * w * 3;
      let dst = y * W;
      const end = dst + w;
      for (; dst < end; dst++, src += 3) {
        d[p0 + dst] = rgb[src + c0] * s0 + o0;
        d[p1 + dst] = rgb[src + c1] * s1 + o1;
        d[p2 + dst] = rgb[src + c2] * s2 + o2;
      }
    }
  }

  private fillResampled(rgb: Uint8Array, rs: Resampler, base: number, plane: number): void {
    const W = this.spec.width;
    const d = this.data;
    const { pw, ph, x0, dx, fx, y0, dy, fy } = rs;
    for (let p = 0; p < 3; p++) {
      const c = this.srcChannel[p];
      const s = this.scale[p];
      const o = this.offset[p];
      const out = base + p * plane;
      for (let y = 0; y < ph; y++) {
        const top = y0[y] + c;
        const bot = top + dy[y];
        const wy = fy[y];
        let dst = out + y * W;
        for (let x = 0; x < pw; x++, dst++) {
          const a = top + x0[x];
          const b = bot + x0[x];
          const wx = fx[x];
          const upper = rgb[a] + (rgb[a + dx[x]] - rgb[a]) * wx;
          const lower = rgb[b] + (rgb[b + dx[x]] - rgb[b]) * wx;
          d[dst] = (upper + (lower - upper) * wy) * s + o;
        }
      }
    }
  }

  /** Sampling tables for one frame size, computed once and kept. */
  private resampler(w: number, h: number): Resampler {
    const key = `${w}x${h}`;
    let rs = this.tables.get(key);
    if (rs) return rs;
    const W = this.spec.width;
    const H = this.spec.height;
    let pw = W,
      ph = H;
    if (this.spec.resize !== 'stretch') {
      const r = Math.min(W / w, H / h);
      pw = Math.max(1, Math.min(W, Math.round(w * r)));
      ph = Math.max(1, Math.min(H, Math.round(h * r)));
    }
    rs = {
      pw,
      ph,
      x0: new Int32Array(pw),
      dx: new Int32Array(pw),
      fx: new Float32Array(pw),
      y0: new Int32Array(ph),
      dy: new Int32Array(ph),
      fy: new Float32Array(ph),
    };
    // Pixel centres map to pixel centres (as ffmpeg and OpenCV do).
    for (let x = 0; x < pw; x++) {
      const sx = Math.min(Math.max((x + 0.5) * (w / pw) - 0.5, 0), w - 1);
      const i = Math.floor(sx);
      rs.x0[x] = i * 3;
      rs.dx[x] = i + 1 < w ? 3 : 0;
      rs.fx[x] = sx - i;
    }
    for (let y = 0; y < ph; y++) {
      const sy = Math.min(Math.max((y + 0.5) * (h / ph) - 0.5, 0), h - 1);
      const i = Math.floor(sy);
      rs.y0[y] = i * w * 3;
      rs.dy[y] = i + 1 < h ? w * 3 : 0;
      rs.fy[y] = sy - i;
    }
    if (this.tables.size >= 8) this.tables.clear(); // a camera changing size often; stay bounded
    this.tables.set(key, rs);
    return rs;
  }
}
