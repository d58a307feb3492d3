/**
 * Turns an interleaved RGB frame (already scaled by ffmpeg) into the model's planar
 * float input, in place, into one buffer reused for every frame. Letterboxing puts the
 * picture top-left; the padding is written only when the picture size changes.
 */
export interface InputSpec {
  width: number;
  height: number;
  channels: 'rgb' | 'bgr';
  mean: readonly number[];
  std: readonly number[];
  pad: number;
}

export class Preprocessor {
  readonly data: Float32Array;
  private readonly spec: InputSpec;
  private readonly scale: Float32Array; // per output plane
  private readonly offset: Float32Array;
  private readonly srcChannel: Int32Array; // which RGB byte feeds each plane
  private lastW = -1;
  private lastH = -1;

  constructor(spec: InputSpec, batch = 1) {
    this.spec = spec;
    this.data = new Float32Array(batch * 3 * spec.width * spec.height);
    this.srcChannel = Int32Array.from(spec.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2]);
    this.scale = new Float32Array(3);
    this.offset = new Float32Array(3);
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
    if (w > W || h > H) throw new Error(`frame ${w}x${h} is larger than the model input ${W}x${H}; the capture must scale it`);
    const plane = W * H;
    const base = slot * 3 * plane;
    const d = this.data;
    if (slot !== 0 || w !== this.lastW || h !== this.lastH) {
      for (let p = 0; p < 3; p++) d.fill(this.spec.pad * this.scale[p] + this.offset[p], base + p * plane, base + (p + 1) * plane);
      if (slot === 0) {
        this.lastW = w;
        this.lastH = h;
      }
    }
    const s0 = this.scale[0], s1 = this.scale[1], s2 = this.scale[2];
    const o0 = this.offset[0], o1 = this.offset[1], o2 = this.offset[2];
    const c0 = this.srcChannel[0], c1 = this.srcChannel[1], c2 = this.srcChannel[2];
    const p0 = base, p1 = base + plane, p2 = base + 2 * plane;
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
}
