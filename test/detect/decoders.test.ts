/**
 * The output formats we have no real weights for (YOLOv5, Ultralytics YOLOv8/YOLO11,
 * end-to-end/SSD exports), through onnxruntime itself: tiny ONNX models output known
 * tensors in each layout, and the gateway must read the same objects out of every one.
 * Also: batches across cameras, label_map into the shared vocabulary, per-class
 * thresholds, and the same model hosted in a worker thread.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { Model, ModelError } from '../../gateway/detect/model.ts';
import { ModelHost } from '../../gateway/detect/host.ts';
import { DetectQueue, type Detected, type FrameSink } from '../../gateway/detect/queue.ts';
import type { Detection } from '../../gateway/detect/types.ts';
import type { Frame } from '../../gateway/capture/camera.ts';
import { columns, grey, px, SIZE, tinyDir, tinyModel, type TinySpec } from './tiny-models.ts';

afterAll(() => rmSync(tinyDir, { recursive: true, force: true }));

const LABELS = ['person', 'car', 'garbage_bag'];
const VOCAB = { label_map: { garbage_bag: 'garbage' } };
// The objects every format encodes: input pixels of the 64x64 input.
const PERSON = [15, 10, 25, 30];
const CAR = [35, 35, 55, 45];
const GARBAGE = [34, 9, 46, 21];

/** YOLOv5 rows: cx, cy, w, h, objectness, 3 class scores. */
const V5_ROWS = [
  [20, 20, 10, 20, 0.9, 0.9, 0.05, 0.05], // person 0.81
  [21, 20, 10, 20, 0.8, 0.9, 0.05, 0.05], // the same person, weaker: NMS removes it
  [45, 40, 20, 10, 0.95, 0.05, 0.8, 0.1], // car 0.76
  [10, 50, 8, 8, 0.2, 0.9, 0, 0], // 0.18: under the threshold
  [40, 15, 12, 12, 0.7, 0, 0.1, 0.6], // garbage_bag 0.42
  [0, 0, 0, 0, 0, 0, 0, 0],
];
/** The same objects as YOLOv8 rows: no objectness, the product already in the class score. */
const V8_ROWS = V5_ROWS.map((r) => [r[0], r[1], r[2], r[3], ...r.slice(5).map((c) => c * r[4])]);

function expectObjects(d: Detection[], w = SIZE, h = SIZE) {
  expect(d.map((x) => x.label)).toEqual(['person', 'car', 'garbage']);
  expect(d[0].score).toBeCloseTo(0.81, 4);
  expect(d[1].score).toBeCloseTo(0.76, 4);
  expect(d[2].score).toBeCloseTo(0.42, 4);
  [PERSON, CAR, GARBAGE].forEach((b, i) => d[i].box.forEach((v, k) => expect(v).toBeCloseTo(Math.min(1, px(b, w, h)[k]), 4)));
}

async function run(id: string, spec: Omit<TinySpec, 'id'>, frame = grey(0)) {
  const m = await Model.load(tinyModel({ ...spec, id }), tinyDir, 1);
  try {
    return await m.detect(frame.data, frame.width, frame.height);
  } finally {
    await m.release();
  }
}

describe('YOLOv5 [1,N,5+C]', () => {
  it('decodes boxes and objectness x class, NMS per class, labels mapped into the vocabulary', async () => {
    const d = await run('v5', { labels: LABELS, manifest: VOCAB, outputs: [{ name: 'output', shape: [1, 6, 8], base: V5_ROWS.flat() }] });
    expectObjects(d);
  });

  it('reads a transposed [1,5+C,N] export the same (layout auto)', async () => {
    const d = await run('v5t', {
      labels: LABELS,
      manifest: VOCAB,
      outputs: [{ name: 'output', shape: [1, 8, 6], base: columns(V5_ROWS) }],
    });
    expectObjects(d);
  });

  it('normalises boxes to a letterboxed picture (64x36 top-left of the input)', async () => {
    const d = await run(
      'v5lb',
      { labels: LABELS, manifest: VOCAB, outputs: [{ name: 'output', shape: [1, 6, 8], base: V5_ROWS.flat() }] },
      grey(0, 64, 36),
    );
    expectObjects(d, 64, 36);
  });

  it("per-class thresholds by the model's or the mapped name", async () => {
    const d = await run('v5thr', {
      labels: LABELS,
      manifest: { ...VOCAB, class_thresholds: { person: 0.9, garbage: 0.4 } },
      outputs: [{ name: 'output', shape: [1, 6, 8], base: V5_ROWS.flat() }],
    });
    expect(d.map((x) => x.label)).toEqual(['car', 'garbage']);
  });

  it('a class mapped to "" is dropped', async () => {
    const d = await run('v5drop', {
      labels: LABELS,
      manifest: { label_map: { car: '' } },
      outputs: [{ name: 'output', shape: [1, 6, 8], base: V5_ROWS.flat() }],
    });
    expect(d.map((x) => x.label)).toEqual(['person', 'garbage_bag']);
  });
});

describe('Ultralytics YOLOv8 / YOLO11 [1,4+C,N]', () => {
  it('decodes the column layout Ultralytics exports', async () => {
    const d = await run('v8', {
      labels: LABELS,
      manifest: VOCAB,
      output: { decoder: 'yolov8' },
      outputs: [{ name: 'output0', shape: [1, 7, 6], base: columns(V8_ROWS) }],
    });
    expectObjects(d);
  });

  it('and a [1,N,4+C] export', async () => {
    const d = await run('v8r', {
      labels: LABELS,
      manifest: VOCAB,
      output: { decoder: 'yolov8' },
      outputs: [{ name: 'output0', shape: [1, 6, 7], base: V8_ROWS.flat() }],
    });
    expectObjects(d);
  });
});

describe('end-to-end exports (NMS inside the model)', () => {
  it('a combined [1,N,6] tensor: x1,y1,x2,y2,score,class; the gateway does no NMS of its own', async () => {
    const rows = [
      [...PERSON, 0.9, 0],
      [16, 10, 26, 30, 0.8, 0], // overlaps the first: the model kept both, so do we
      [...CAR, 0.7, 1],
      [0, 0, 0, 0, 0, -1], // padding
      [1, 1, 2, 2, 0.1, 2], // under the threshold
    ];
    const d = await run('e2e6', {
      labels: LABELS,
      manifest: VOCAB,
      output: { decoder: 'e2e' },
      outputs: [{ name: 'output0', shape: [1, 5, 6], base: rows.flat() }],
    });
    expect(d.map((x) => `${x.label}:${x.score.toFixed(2)}`)).toEqual(['person:0.90', 'person:0.80', 'car:0.70']);
    d[2].box.forEach((v, k) => expect(v).toBeCloseTo(px(CAR)[k], 4));
  });

  it('onnxruntime-NMS style [N,7]: batch,x1,y1,x2,y2,class,score; rows of other images ignored', async () => {
    const rows = [
      [0, ...PERSON, 0, 0.9],
      [1, ...CAR, 1, 0.7],
      [0, ...GARBAGE, 2, 0.6],
    ];
    const d = await run('e2e7', {
      labels: LABELS,
      manifest: VOCAB,
      output: { decoder: 'e2e' },
      outputs: [{ name: 'detections', shape: [3, 7], base: rows.flat(), batchFirst: false }],
    });
    expect(d.map((x) => x.label)).toEqual(['person', 'garbage']);
    d[1].box.forEach((v, k) => expect(v).toBeCloseTo(px(GARBAGE)[k], 4));
  });

  it('SSD / TF style: normalised yxyx boxes, 1-based classes, scores, a count; tensors found by name', async () => {
    const yx = (b: number[]) => [b[1] / SIZE, b[0] / SIZE, b[3] / SIZE, b[2] / SIZE];
    const d = await run('ssd', {
      labels: LABELS,
      manifest: VOCAB,
      output: { decoder: 'e2e', boxes: 'yxyx', normalised: true, class_offset: 1 },
      outputs: [
        { name: 'detection_boxes', shape: [1, 4, 4], base: [...yx(PERSON), ...yx(CAR), ...yx(GARBAGE), 0, 0, 0.5, 0.5] },
        { name: 'detection_scores', shape: [1, 4], base: [0.9, 0.8, 0.5, 0.99] },
        { name: 'detection_classes', shape: [1, 4], base: [1, 2, 3, 1], type: 'int64' },
        { name: 'num_detections', shape: [1], base: [3] }, // the 4th row is padding
      ],
    });
    expect(d.map((x) => x.label)).toEqual(['person', 'car', 'garbage']);
    [PERSON, CAR, GARBAGE].forEach((b, i) => d[i].box.forEach((v, k) => expect(v).toBeCloseTo(px(b)[k], 4)));
  });

  it('per-class scores with a background column, cxcywh boxes in pixels', async () => {
    const d = await run('ssdbg', {
      labels: LABELS,
      manifest: VOCAB,
      output: { decoder: 'e2e', boxes: 'cxcywh', class_offset: 1 },
      outputs: [
        { name: 'boxes', shape: [1, 3, 4], base: [20, 20, 10, 20, 45, 40, 20, 10, 40, 15, 12, 12] },
        { name: 'scores', shape: [1, 3, 4], base: [0.05, 0.9, 0.02, 0.03, 0.9, 0.05, 0.03, 0.02, 0.1, 0.05, 0.1, 0.7] },
      ],
    });
    expect(d.map((x) => `${x.label}:${x.score.toFixed(2)}`)).toEqual(['person:0.90', 'garbage:0.70']);
  });

  it('outputs it cannot tell apart are a clear error at load, asking for output.tensors', async () => {
    const err = await run('e2eamb', {
      labels: LABELS,
      output: { decoder: 'e2e' },
      outputs: [
        { name: 'a', shape: [1, 2, 4], base: new Array(8).fill(0) },
        { name: 'b', shape: [1, 2], base: [0, 0] },
      ],
    }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(ModelError);
    expect(err!.message).toMatch(/^model "e2eamb": end-to-end outputs "a", "b": cannot tell which is the boxes.*output\.tensors/);
  });

  it('…and naming them in the manifest makes it work', async () => {
    const d = await run('e2enamed', {
      labels: LABELS,
      manifest: VOCAB,
      output: { decoder: 'e2e', tensors: { boxes: 'a', scores: 'b', classes: 'c' } },
      outputs: [
        { name: 'a', shape: [1, 2, 4], base: [...PERSON, ...CAR] },
        { name: 'b', shape: [1, 2], base: [0.9, 0.8] },
        { name: 'c', shape: [1, 2], base: [0, 1], type: 'int32' },
      ],
    });
    expect(d.map((x) => x.label)).toEqual(['person', 'car']);
  });
});

describe('batches across cameras', () => {
  /** YOLOv8 columns with a dynamic batch; the person's cx moves by 40 px per unit of mean brightness. */
  const spec = {
    labels: LABELS,
    output: { decoder: 'yolov8' },
    batch: 'dynamic' as const,
    outputs: [
      {
        name: 'output0',
        shape: [1, 7, 2],
        base: columns([
          [20, 20, 10, 20, 0.9, 0.05, 0.05],
          [0, 0, 0, 0, 0, 0, 0],
        ]),
        delta: columns([
          [40, 0, 0, 0, 0, 0, 0],
          [0, 0, 0, 0, 0, 0, 0],
        ]),
      },
    ],
  };
  const cx = (d: Detection[]) => ((d[0].box[0] + d[0].box[2]) / 2) * SIZE;

  it('one session.run serves several frames, each decoded from its own slice', async () => {
    const m = await Model.load(tinyModel({ ...spec, id: 'batch' }), tinyDir, 1, { batch: 4 });
    expect(m.maxBatch).toBe(4);
    const out = await m.detectBatch([grey(0), grey(255), grey(0, 64, 32), grey(51)]);
    // The 64x32 frame's lower half is padding (114): its mean is 57/255.
    expect(out.map(cx).map(Math.round)).toEqual([20, 60, 29, 28]);
    // The letterboxed one is normalised to its own 64x32 picture.
    expect(out[2][0].box[3]).toBeCloseTo(30 / 32, 4);
    await m.release();
  });

  it('the queue runs the frames waiting from different cameras as one batch and routes each back', async () => {
    const m = await Model.load(tinyModel({ ...spec, id: 'batchq' }), tinyDir, 1, { batch: 4 });
    const got: Detected[] = [];
    const released: string[] = [];
    const q = new DetectQueue({ model: m, capacity: 8 });
    const sink: FrameSink = {
      detected: (r) => got.push(r),
      lost: () => {},
      failed: (_f, e) => {
        throw e;
      },
    };
    const frame = (camera: string, v: number): Frame => ({
      camera,
      ts: 1,
      ...grey(v),
      data: Buffer.from(grey(v).data),
      release: () => released.push(camera),
    });
    q.push(frame('a', 0), sink);
    q.push(frame('b', 255), sink);
    q.push(frame('c', 102), sink);
    await q.settled();
    expect(got.map((r) => [r.frame.camera, Math.round(cx(r.detections)), r.batch])).toEqual([
      ['a', 20, 3],
      ['b', 60, 3],
      ['c', 36, 3],
    ]);
    expect(q.getStats()).toMatchObject({ processed: 3, runs: 1, meanBatch: 3, dropped: 0 });
    expect(released.sort()).toEqual(['a', 'b', 'c']);
    await m.release();
  });

  it('a model in a worker thread gives the same detections as in this thread', async () => {
    const manifest = tinyModel({ ...spec, id: 'hosted' });
    const local = await Model.load(manifest, tinyDir, 1, { batch: 2 });
    const host = await ModelHost.load(manifest, tinyDir, 1, { batch: 2 });
    try {
      expect(host.maxBatch).toBe(2);
      const frames = [grey(0), grey(255)];
      const shared = frames.map((f) => ({ ...f, data: new Uint8Array(new SharedArrayBuffer(f.data.length)).fill(f.data[0]) }));
      const timing = { preMs: 0, inferMs: 0, postMs: 0 };
      expect(await host.detectBatch(shared, timing)).toEqual(await local.detectBatch(frames));
      expect(await host.detectBatch(frames)).toEqual(await local.detectBatch(frames)); // not shared: copied
      expect(timing.inferMs).toBeGreaterThan(0);
    } finally {
      await host.release();
      await local.release();
    }
  });
});
