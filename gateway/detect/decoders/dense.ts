/**
 * Dense YOLO outputs whose boxes are already decoded to input pixels (cx, cy, w, h):
 * - yolov5: K = 5 + C fields per anchor (box, objectness, class scores), score = obj * cls.
 *   YOLOv5, YOLOv7 and YOLOX exported with decode_in_inference all look like this.
 * - yolov8: K = 4 + C fields (box, class scores), no objectness: Ultralytics YOLOv8, YOLO11.
 * Either comes as rows [B, N, K] (YOLOv5's usual) or columns [B, K, N] (Ultralytics' usual).
 * `layout: auto` tells them apart by which dimension equals K.
 */
import type { Tensor } from 'onnxruntime-node';
import { pushCandidate, type Candidates } from '../types.ts';
import { itemOffset, outputIndex, shape, type Decoder, type DecoderContext } from './common.ts';

export const yolov5Decoder = (ctx: DecoderContext): Decoder => denseDecoder(ctx, true);
export const yolov8Decoder = (ctx: DecoderContext): Decoder => denseDecoder(ctx, false);

function denseDecoder(ctx: DecoderContext, objectness: boolean): Decoder {
  const C = ctx.numClasses;
  const K = (objectness ? 5 : 4) + C;
  const first = objectness ? 5 : 4; // first class field
  const which = outputIndex(ctx, ctx.output.tensors.detections, 0);
  const thr = ctx.thresholds;
  const name = objectness ? 'YOLOv5' : 'YOLOv8';
  // Per-anchor best class, for the column layout (filled class by class: sequential reads).
  let best = new Float32Array(0);
  let bestC = new Int32Array(0);

  function layoutOf(t: Tensor): { n: number; rows: boolean } {
    const d = t.dims;
    const want = ctx.output.layout;
    const bad = () =>
      new Error(`${name} output is ${shape(t)}, expected [1,N,${K}] or [1,${K},N] (${objectness ? '5' : '4'} + ${C} labels)`);
    if (d.length !== 3) throw bad();
    const rowsOk = d[2] === K;
    const colsOk = d[1] === K;
    if (want === 'rows') {
      if (!rowsOk) throw bad();
      return { n: d[1], rows: true };
    }
    if (want === 'columns') {
      if (!colsOk) throw bad();
      return { n: d[2], rows: false };
    }
    if (rowsOk && colsOk) return objectness ? { n: d[1], rows: true } : { n: d[2], rows: false };
    if (rowsOk) return { n: d[1], rows: true };
    if (colsOk) return { n: d[2], rows: false };
    throw bad();
  }

  return {
    decode(outputs: readonly Tensor[], item: number, out: Candidates): void {
      const t = outputs[which];
      const { n, rows } = layoutOf(t);
      const d = t.data as Float32Array;
      const base = itemOffset(t, item);
      const minT = ctx.minThreshold;
      const push = (cx: number, cy: number, w: number, h: number, score: number, c: number) =>
        pushCandidate(out, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, c);
      if (rows) {
        for (let i = 0; i < n; i++) {
          const o = base + i * K;
          const obj = objectness ? d[o + 4] : 1;
          if (obj < minT) continue;
          let b = 0;
          let bc = -1;
          for (let c = 0; c < C; c++) {
            const v = d[o + first + c];
            if (v > b) {
              b = v;
              bc = c;
            }
          }
          const score = obj * b;
          if (bc >= 0 && score >= thr[bc]) push(d[o], d[o + 1], d[o + 2], d[o + 3], score, bc);
        }
        return;
      }
      if (best.length < n) {
        best = new Float32Array(n);
        bestC = new Int32Array(n);
      }
      best.fill(0, 0, n);
      bestC.fill(-1, 0, n);
      for (let c = 0; c < C; c++) {
        const row = base + (first + c) * n;
        for (let i = 0; i < n; i++) {
          const v = d[row + i];
          if (v > best[i]) {
            best[i] = v;
            bestC[i] = c;
          }
        }
      }
      for (let i = 0; i < n; i++) {
        const bc = bestC[i];
        if (bc < 0) continue;
        const score = (objectness ? d[base + 4 * n + i] : 1) * best[i];
        if (score < thr[bc]) continue;
        push(d[base + i], d[base + n + i], d[base + 2 * n + i], d[base + 3 * n + i], score, bc);
      }
    },
  };
}
