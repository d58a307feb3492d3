/**
 * YOLOX head: [1, N, 5 + C] rows of (x, y, w, h, obj, cls...) over the anchor points of
 * each stride, in stride order. obj and cls come already sigmoid-activated.
 */
import type { Tensor } from 'onnxruntime-node';
import { pushCandidate, type Candidates } from '../types.ts';
import { anchorGrid, type Decoder, type DecoderContext } from './common.ts';

export function yoloxDecoder(ctx: DecoderContext): Decoder {
  const grid = anchorGrid(ctx.width, ctx.height, ctx.strides);
  const C = ctx.numClasses;
  return {
    decode(outputs: readonly Tensor[], out: Candidates): void {
      const t = outputs[0];
      const dims = t.dims;
      if (dims.length !== 3 || dims[1] !== grid.count || dims[2] !== 5 + C)
        throw new Error(`YOLOX output is [${dims.join(',')}], expected [1,${grid.count},${5 + C}] for ${ctx.width}x${ctx.height} and ${C} labels`);
      const d = t.data as Float32Array;
      const row = 5 + C;
      const minT = ctx.minThreshold;
      for (let i = 0; i < grid.count; i++) {
        const o = i * row;
        const obj = d[o + 4];
        if (obj < minT) continue;
        let best = 0;
        let bestC = -1;
        for (let c = 0; c < C; c++) {
          const v = d[o + 5 + c];
          if (v > best) {
            best = v;
            bestC = c;
          }
        }
        const score = obj * best;
        if (bestC < 0 || score < ctx.thresholds[bestC]) continue;
        const s = grid.stride[i];
        const cx = (d[o] + grid.gx[i]) * s;
        const cy = (d[o + 1] + grid.gy[i]) * s;
        const w = Math.exp(d[o + 2]) * s;
        const h = Math.exp(d[o + 3]) * s;
        pushCandidate(out, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, bestC);
      }
    },
  };
}
