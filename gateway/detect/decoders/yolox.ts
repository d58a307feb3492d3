/**
 * YOLOX head: [B, N, 5 + C] rows of (x, y, w, h, obj, cls...) over the anchor points of
 * each stride, in stride order. obj and cls come already sigmoid-activated. (A YOLOX
 * exported with decode_in_inference has pixel boxes: use the yolov5 decoder for it.)
 */
import type { Tensor } from 'onnxruntime-node';
import { pushCandidate, type Candidates } from '../types.ts';
import { anchorGrid, itemOffset, outputIndex, type Decoder, type DecoderContext } from './common.ts';

export function yoloxDecoder(ctx: DecoderContext): Decoder {
  const grid = anchorGrid(ctx.width, ctx.height, ctx.strides, ctx.anchorOffset);
  const C = ctx.numClasses;
  const which = outputIndex(ctx, ctx.output.tensors.detections, 0);
  return {
    decode(outputs: readonly Tensor[], item: number, out: Candidates): void {
      const t = outputs[which];
      const dims = t.dims;
      if (dims.length !== 3 || dims[1] !== grid.count || dims[2] !== 5 + C)
        throw new Error(
          `YOLOX output is [${dims.join(',')}], expected [1,${grid.count},${5 + C}] for ${ctx.width}x${ctx.height} and ${C} labels`,
        );
      const d = t.data as Float32Array;
      const base = itemOffset(t, item);
      const row = 5 + C;
      const minT = ctx.minThreshold;
      const thr = ctx.thresholds;
      for (let i = 0; i < grid.count; i++) {
        const o = base + i * row;
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
        if (bestC < 0 || score < thr[bestC]) continue;
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
