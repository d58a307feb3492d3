import type { Tensor } from 'onnxruntime-node';
import type { Candidates } from '../types.ts';
import type { Manifest } from '../manifest.ts';

export interface DecoderContext {
  /** Model input size, in pixels. */
  width: number;
  height: number;
  numClasses: number;
  strides: number[];
  regMax: number;
  /** Anchor point = (cell + anchorOffset) * stride. */
  anchorOffset: number;
  /** Per class score threshold; Infinity for classes the manifest drops. */
  thresholds: Float32Array;
  /** The smallest of `thresholds`: a cheap early exit. */
  minThreshold: number;
  /** The manifest's output section, for format options (layout, columns, tensors...). */
  output: Manifest['output'];
  /** The session's output names, in the order `decode` receives the tensors. */
  outputNames: readonly string[];
}

export interface Decoder {
  /**
   * Appends the candidates of batch item `item`, in model-input pixels, to `out`. Throws
   * a plain Error saying what shape it expected when the outputs do not fit the format.
   */
  decode(outputs: readonly Tensor[], item: number, out: Candidates): void;
}

/** Offset of batch item `item` in a tensor whose first dimension is the batch. */
export function itemOffset(t: Tensor, item: number): number {
  const b = t.dims[0];
  if (item >= b) throw new Error(`output batch is ${b}, item ${item} asked`);
  return item * (t.data.length / b);
}

export function shape(t: Tensor): string {
  return `[${t.dims.join(',')}]`;
}

/** Index of the output named `name` (manifest `output.tensors`), with a clear error. */
export function outputIndex(ctx: DecoderContext, name: string | undefined, fallback: number): number {
  if (name === undefined) return fallback;
  const i = ctx.outputNames.indexOf(name);
  if (i < 0) throw new Error(`output "${name}" named in the manifest is not in the model (it has ${ctx.outputNames.join(', ')})`);
  return i;
}

export interface AnchorGrid {
  gx: Float32Array;
  gy: Float32Array;
  stride: Float32Array;
  count: number;
}

/** Anchor points of every stride, row-major, strides in order; computed once per model. */
export function anchorGrid(width: number, height: number, strides: number[], offset = 0): AnchorGrid {
  let count = 0;
  for (const s of strides) count += Math.ceil(width / s) * Math.ceil(height / s);
  const g: AnchorGrid = { gx: new Float32Array(count), gy: new Float32Array(count), stride: new Float32Array(count), count };
  let i = 0;
  for (const s of strides) {
    const nx = Math.ceil(width / s);
    const ny = Math.ceil(height / s);
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        g.gx[i] = x + offset;
        g.gy[i] = y + offset;
        g.stride[i] = s;
      }
  }
  return g;
}
