/**
 * Exports that already did NMS and output final boxes, scores and classes. They come in
 * two shapes, and the manifest can say which tensor is which (`output.tensors`):
 * - one combined tensor [B, N, K] whose columns the manifest names (`output.columns`);
 *   defaults: 6 = x1,y1,x2,y2,score,class (YOLOv10, Ultralytics nms=True), 7 =
 *   batch,x1,y1,x2,y2,class,score (YOLOv7 end2end with onnxruntime NMS, also as [N, 7]);
 * - separate tensors (SSD-style, TF Object Detection, torchvision, TensorRT NMS plugins):
 *   boxes [B, N, 4] (`output.boxes` layout), scores [B, N] or [B, N, C], classes [B, N]
 *   (float or integer), and an optional count [B] or [B, 1] of valid rows.
 * Boxes are input pixels unless `output.normalised`. Class ids minus `class_offset` index
 * the labels; rows with a class outside them (padding, background) are skipped.
 */
import type { Tensor } from 'onnxruntime-node';
import { pushCandidate, type Candidates } from '../types.ts';
import type { E2eColumn } from '../manifest.ts';
import { outputIndex, shape, type Decoder, type DecoderContext } from './common.ts';

type Role = 'detections' | 'boxes' | 'scores' | 'classes' | 'count';
const GUESS: [Role, RegExp][] = [
  ['boxes', /box|bbox|loc/i],
  ['scores', /score|conf|prob/i],
  ['classes', /class|label|cls/i],
  ['count', /num|count|valid/i],
  ['detections', /det|output/i],
];

const DEFAULT_COLUMNS: Record<number, E2eColumn[]> = {
  6: ['x1', 'y1', 'x2', 'y2', 'score', 'class'],
  7: ['batch', 'x1', 'y1', 'x2', 'y2', 'class', 'score'],
  5: ['x1', 'y1', 'x2', 'y2', 'score'],
};

type Numeric = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
const at = (a: Numeric, i: number): number => Number(a[i]);

function assign(ctx: DecoderContext): Partial<Record<Role, number>> {
  const t = ctx.output.tensors;
  const got: Partial<Record<Role, number>> = {};
  for (const role of ['detections', 'boxes', 'scores', 'classes', 'count'] as Role[])
    if (t[role] !== undefined) got[role] = outputIndex(ctx, t[role], -1);
  if (Object.keys(got).length) return got;
  if (ctx.outputNames.length === 1) return { detections: 0 };
  const taken = new Set<number>();
  for (const [role, re] of GUESS) {
    const i = ctx.outputNames.findIndex((n, k) => !taken.has(k) && re.test(n));
    if (i >= 0 && !(role === 'detections' && got.boxes !== undefined)) {
      got[role] = i;
      taken.add(i);
    }
  }
  return got;
}

export function e2eDecoder(ctx: DecoderContext): Decoder {
  const C = ctx.numClasses;
  const o = ctx.output;
  const roles = assign(ctx);
  const W = o.normalised ? ctx.width : 1;
  const H = o.normalised ? ctx.height : 1;
  const thr = ctx.thresholds;
  const names = ctx.outputNames;
  const need = (what: string) =>
    new Error(
      `end-to-end outputs ${names.map((n) => `"${n}"`).join(', ')}: cannot tell which is ${what}; name them in the manifest's output.tensors`,
    );
  if (roles.detections === undefined && roles.boxes === undefined) throw need('the boxes (or a combined detections tensor)');

  function emit(out: Candidates, a: number, b: number, c: number, d: number, layout: string, score: number, cls: number): void {
    const k = cls - o.class_offset;
    if (!(k >= 0 && k < C) || !(score >= thr[k])) return;
    let x1 = a,
      y1 = b,
      x2 = c,
      y2 = d;
    if (layout === 'yxyx') {
      x1 = b;
      y1 = a;
      x2 = d;
      y2 = c;
    } else if (layout === 'cxcywh') {
      x1 = a - c / 2;
      y1 = b - d / 2;
      x2 = a + c / 2;
      y2 = b + d / 2;
    } else if (layout === 'xywh') {
      // top-left and size
      x2 = a + c;
      y2 = b + d;
    }
    pushCandidate(out, x1 * W, y1 * H, x2 * W, y2 * H, score, k);
  }

  function decodeCombined(outputs: readonly Tensor[], item: number, out: Candidates): void {
    const t = outputs[roles.detections!];
    const d = t.data as Numeric;
    const K = t.dims[t.dims.length - 1];
    const cols = o.columns ?? DEFAULT_COLUMNS[K];
    if (!cols || cols.length !== K)
      throw new Error(
        `end-to-end detections are ${shape(t)}: ${o.columns ? `output.columns names ${o.columns.length} columns, the tensor has ${K}` : `say what its ${K} columns hold in output.columns`}`,
      );
    const col = (r: E2eColumn) => cols.indexOf(r);
    const [cB, cS, cC] = [col('batch'), col('score'), col('class')];
    const corners = col('x1') >= 0;
    const [c0, c1, c2, c3] = corners ? [col('x1'), col('y1'), col('x2'), col('y2')] : [col('cx'), col('cy'), col('w'), col('h')];
    if (c0 < 0 || c1 < 0 || c2 < 0 || c3 < 0) throw new Error(`output.columns ${JSON.stringify(cols)} must name x1,y1,x2,y2 or cx,cy,w,h`);
    const layout = corners ? 'xyxy' : 'cxcywh';
    // [N, K] with a batch column holds every image's rows; [B, N, K] holds them per image.
    const perImage = t.dims.length === 3;
    const n = perImage ? t.dims[1] : t.dims[0];
    const base = perImage ? item * n * K : 0;
    const scores = cS < 0 ? side(outputs, 'scores', item) : null;
    const classes = cC < 0 ? side(outputs, 'classes', item) : null;
    if (cS < 0 && !scores) throw need('the scores');
    const limit = Math.min(n, count(outputs, item) ?? n);
    for (let i = 0; i < limit; i++) {
      const r = base + i * K;
      if (!perImage && cB >= 0 && at(d, r + cB) !== item) continue;
      const score = cS >= 0 ? at(d, r + cS) : at(scores!.data, scores!.offset + i);
      const cls = cC >= 0 ? Math.round(at(d, r + cC)) : classes ? Math.round(at(classes.data, classes.offset + i)) : o.class_offset;
      emit(out, at(d, r + c0), at(d, r + c1), at(d, r + c2), at(d, r + c3), layout, score, cls);
    }
  }

  function side(outputs: readonly Tensor[], role: 'scores' | 'classes', item: number): { data: Numeric; offset: number; t: Tensor } | null {
    const i = roles[role];
    if (i === undefined) return null;
    const t = outputs[i];
    return { data: t.data as Numeric, offset: item * (t.data.length / t.dims[0]), t };
  }

  function count(outputs: readonly Tensor[], item: number): number | null {
    if (roles.count === undefined) return null;
    const t = outputs[roles.count];
    return at(t.data as Numeric, item * (t.data.length / t.dims[0]));
  }

  function decodeSeparate(outputs: readonly Tensor[], item: number, out: Candidates): void {
    const bt = outputs[roles.boxes!];
    if (bt.dims.length !== 3 || bt.dims[2] !== 4) throw new Error(`end-to-end boxes are ${shape(bt)}, expected [1,N,4]`);
    const n = bt.dims[1];
    const boxes = bt.data as Numeric;
    const bo = item * n * 4;
    const scores = side(outputs, 'scores', item);
    if (!scores) throw need('the scores');
    const classes = side(outputs, 'classes', item);
    const st = scores.t;
    // Scores per class ([1,N,C], or C + class_offset with a background column): take the best.
    const perClass = st.dims.length === 3 && st.dims[2] > 1 ? st.dims[2] : 0;
    if (st.dims[1] !== n) throw new Error(`end-to-end scores are ${shape(st)}, boxes ${shape(bt)}: they must have the same N`);
    if (perClass && perClass !== C && perClass !== C + o.class_offset)
      throw new Error(
        `end-to-end scores are ${shape(st)}: ${perClass} classes, the labels file has ${C}${o.class_offset ? ` (+${o.class_offset} background)` : ''}`,
      );
    if (!perClass && !classes) throw need('the classes');
    if (classes && classes.t.dims[1] !== n)
      throw new Error(`end-to-end classes are ${shape(classes.t)}, boxes ${shape(bt)}: they must have the same N`);
    const limit = Math.min(n, count(outputs, item) ?? n);
    const offset = perClass === C ? o.class_offset : 0; // scores without a background column
    for (let i = 0; i < limit; i++) {
      let score: number;
      let cls: number;
      if (perClass) {
        score = -1;
        cls = -1;
        const so = scores.offset + i * perClass;
        for (let c = perClass - C; c < perClass; c++) {
          const v = at(scores.data, so + c);
          if (v > score) {
            score = v;
            cls = c + offset;
          }
        }
      } else {
        score = at(scores.data, scores.offset + i);
        cls = Math.round(at(classes!.data, classes!.offset + i));
      }
      const b = bo + i * 4;
      emit(out, at(boxes, b), at(boxes, b + 1), at(boxes, b + 2), at(boxes, b + 3), o.boxes, score, cls);
    }
  }

  return {
    decode(outputs: readonly Tensor[], item: number, out: Candidates): void {
      if (roles.detections !== undefined) decodeCombined(outputs, item, out);
      else decodeSeparate(outputs, item, out);
    },
  };
}
