/**
 * NanoDet (GFL) head: per stride a class-score tensor [B, N, C] (sigmoid applied) and,
 * after all score tensors, a box-distribution tensor [B, N, 4 * (reg_max + 1)]: a
 * softmax over bins per side gives the distance to each edge, in strides, from the
 * anchor point ((cell + anchor_offset) * stride: NanoDet-m uses cell centres).
 */
import type { Tensor } from 'onnxruntime-node';
import { pushCandidate, type Candidates } from '../types.ts';
import { anchorGrid, itemOffset, type Decoder, type DecoderContext } from './common.ts';

export function nanodetDecoder(ctx: DecoderContext): Decoder {
  const bins = ctx.regMax + 1;
  const C = ctx.numClasses;
  const levels = ctx.strides.map((s) => ({ s, grid: anchorGrid(ctx.width, ctx.height, [s], ctx.anchorOffset) }));
  const dist = new Float32Array(4);
  const ex = new Float32Array(bins);
  const thr = ctx.thresholds;
  return {
    decode(outputs: readonly Tensor[], item: number, out: Candidates): void {
      if (outputs.length !== levels.length * 2)
        throw new Error(`NanoDet expects ${levels.length * 2} outputs (scores then boxes per stride), got ${outputs.length}`);
      for (let li = 0; li < levels.length; li++) {
        const { s, grid } = levels[li];
        const sc = outputs[li];
        const bx = outputs[li + levels.length];
        if (sc.dims[1] !== grid.count || sc.dims[2] !== C)
          throw new Error(`NanoDet scores for stride ${s} are [${sc.dims.join(',')}], expected [1,${grid.count},${C}]`);
        if (bx.dims[1] !== grid.count || bx.dims[2] !== 4 * bins)
          throw new Error(`NanoDet boxes for stride ${s} are [${bx.dims.join(',')}], expected [1,${grid.count},${4 * bins}]`);
        const scores = sc.data as Float32Array;
        const boxes = bx.data as Float32Array;
        const so = itemOffset(sc, item);
        const bo = itemOffset(bx, item);
        for (let i = 0; i < grid.count; i++) {
          let best = 0;
          let bestC = -1;
          const o = so + i * C;
          for (let c = 0; c < C; c++) {
            const v = scores[o + c];
            if (v > best) {
              best = v;
              bestC = c;
            }
          }
          if (bestC < 0 || best < thr[bestC]) continue;
          for (let side = 0; side < 4; side++) {
            const b = bo + i * 4 * bins + side * bins;
            let max = -Infinity;
            for (let k = 0; k < bins; k++) if (boxes[b + k] > max) max = boxes[b + k];
            let sum = 0;
            for (let k = 0; k < bins; k++) sum += ex[k] = Math.exp(boxes[b + k] - max);
            let e = 0;
            for (let k = 0; k < bins; k++) e += ex[k] * k;
            dist[side] = (e / sum) * s;
          }
          // The grid already holds (cell + anchor_offset): NanoDet-m's export needs cell
          // centres (its reference decoder uses gx*s + 0.5*(s-1)); at corners every box
          // would shift by s/2. The manifest says which, so NanoDet-Plus (corners) fits too.
          const cx = grid.gx[i] * s;
          const cy = grid.gy[i] * s;
          pushCandidate(out, cx - dist[0], cy - dist[1], cx + dist[2], cy + dist[3], best, bestC);
        }
      }
    },
  };
}
