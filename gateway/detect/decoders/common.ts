import type { Tensor } from 'onnxruntime-node';
import type { Candidates } from '../types.ts';

export interface DecoderContext {
  width: number;
  height: number;
  numClasses: number;
  strides: number[];
  regMax: number;
  /** Per class score threshold. */
  thresholds: Float32Array;
  /** The smallest of `thresholds`: a cheap early exit. */
  minThreshold: number;
}

export interface Decoder {
  /** Appends candidates, in model-input pixels, to `out`. */
  decode(outputs: readonly Tensor[], out: Candidates): void;
}

export interface AnchorGrid {
  gx: Float32Array;
  gy: Float32Array;
  stride: Float32Array;
  count: number;
}

/** Anchor points of every stride, row-major, strides in order; computed once per model. */
export function anchorGrid(width: number, height: number, strides: number[]): AnchorGrid {
  let count = 0;
  for (const s of strides) count += Math.ceil(width / s) * Math.ceil(height / s);
  const g: AnchorGrid = { gx: new Float32Array(count), gy: new Float32Array(count), stride: new Float32Array(count), count };
  let i = 0;
  for (const s of strides) {
    const nx = Math.ceil(width / s);
    const ny = Math.ceil(height / s);
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        g.gx[i] = x;
        g.gy[i] = y;
        g.stride[i] = s;
      }
  }
  return g;
}
