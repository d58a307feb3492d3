/**
 * The runtime around session.run: back-pressure (oldest frames dropped, counted per
 * camera), the per-frame join of several models on one camera, one capture size for
 * models of different sizes (the smaller resamples), the settings that ask for it, and
 * through a real gateway: a manifest-only switch from YOLOX to NanoDet, and a camera
 * running both models at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Model } from '../../gateway/detect/model.ts';
import { DetectQueue, type Detected, type FrameSink } from '../../gateway/detect/queue.ts';
import { FrameJoin, shareFrame } from '../../gateway/detect/join.ts';
import { captureSize } from '../../gateway/detect/runtime.ts';
import { Preprocessor } from '../../gateway/detect/preprocess.ts';
import { loadManifest } from '../../gateway/detect/manifest.ts';
import type { Detection, Detector, FrameLike, RunTiming } from '../../gateway/detect/types.ts';
import type { Frame } from '../../gateway/capture/camera.ts';
import { type ConfigError, parseSettings, type ConfigIssue } from '../../gateway/settings/load.ts';
import { iou } from '../../gateway/zones/geometry.ts';
import { MODELS_DIR, ROOT } from '../../gateway/paths.ts';
import { ensureScenario } from '../../scripts/scenario.ts';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import type { Gateway } from '../../gateway/controller.ts';
import { columns, grey, tinyDir, tinyModel } from './tiny-models.ts';

const FILES = join(MODELS_DIR, 'files');
afterAll(() => rmSync(tinyDir, { recursive: true, force: true }));

function frame(camera: string, ts: number, released: string[], f: FrameLike = grey(0)): Frame {
  return { camera, ts, width: f.width, height: f.height, data: Buffer.from(f.data), release: () => released.push(`${camera}@${ts}`) };
}

/** A real (tiny) model whose runs wait until the test opens the gate: detection "falls behind". */
class Gated implements Detector {
  private gates: (() => void)[] = [];
  runs: number[] = [];
  private readonly inner: Model;
  constructor(inner: Model) {
    this.inner = inner;
  }
  get manifest() {
    return this.inner.manifest;
  }
  get maxBatch() {
    return this.inner.maxBatch;
  }
  async detectBatch(frames: readonly FrameLike[], t?: RunTiming): Promise<Detection[][]> {
    this.runs.push(frames.length);
    await new Promise<void>((ok) => this.gates.push(ok));
    return this.inner.detectBatch(frames, t);
  }
  open(): void {
    for (const g of this.gates.splice(0)) g();
  }
  release() {
    return this.inner.release();
  }
}

const PERSON_V8 = { name: 'output0', shape: [1, 6, 1], base: columns([[20, 20, 10, 20, 0.9, 0.05]]) };

/** A real (tiny) model that takes `ms` longer per run: a box that cannot keep up. */
class Slowed implements Detector {
  private readonly inner: Model;
  private readonly ms: number;
  constructor(inner: Model, ms: number) {
    this.inner = inner;
    this.ms = ms;
  }
  get manifest() {
    return this.inner.manifest;
  }
  get maxBatch() {
    return this.inner.maxBatch;
  }
  async detectBatch(frames: readonly FrameLike[], t?: RunTiming): Promise<Detection[][]> {
    await new Promise((r) => setTimeout(r, this.ms));
    return this.inner.detectBatch(frames, t);
  }
  release() {
    return this.inner.release();
  }
}

function sinkInto(done: string[], dropped: string[], onLost: (f: Frame) => void = () => {}): FrameSink {
  return {
    detected: (r) => done.push(`${r.frame.camera}@${r.frame.ts}`),
    lost: (f) => {
      dropped.push(`${f.camera}@${f.ts}`);
      onLost(f);
    },
    failed: (_f, e) => {
      throw e;
    },
  };
}

describe('back-pressure and fair turns', () => {
  it('when detection falls behind, the camera served most recently gives way; the others keep their frames; drops are released and counted', async () => {
    const model = new Gated(
      await Model.load(
        tinyModel({ id: 'slow', labels: ['person', 'car'], output: { decoder: 'yolov8' }, outputs: [PERSON_V8] }),
        tinyDir,
        1,
      ),
    );
    const released: string[] = [];
    const dropped: string[] = [];
    const done: string[] = [];
    // As a camera's pipeline does: a dropped frame is taken back from every queue still holding it.
    const q = new DetectQueue({ model, capacity: 2 });
    const sink = sinkInto(done, dropped, (f) => expect(q.discard(f)).toBe(false));
    q.push(frame('a', 1, released), sink);
    await new Promise((r) => setImmediate(r)); // a@1 is now running, held at the gate
    q.push(frame('a', 2, released), sink);
    q.push(frame('b', 3, released), sink);
    q.push(frame('c', 4, released), sink); // full: a was just served, so a@2 gives way
    q.push(frame('a', 5, released), sink); // full, and a still has the weakest claim: a@5 is refused
    q.push(frame('b', 6, released), sink); // a newer frame of a camera replaces its waiting one: b@3 goes
    expect(dropped).toEqual(['a@2', 'a@5', 'b@3']);
    expect(q.getStats()).toMatchObject({ dropped: 3, waiting: 2, processed: 0, droppedByCamera: { a: 2, b: 1 } });
    // Open the gate for each run as it arrives (on a loaded machine a run can take a while to get there).
    let settled = false;
    const idle = q.settled().then(() => (settled = true));
    while (!settled) {
      model.open();
      await Promise.race([idle, new Promise((r) => setTimeout(r, 20))]);
    }
    // c was pushed after b's first frame but b's replacement keeps b's place in line.
    expect(done).toEqual(['a@1', 'b@6', 'c@4']);
    expect(released.sort()).toEqual(['a@1', 'a@2', 'a@5', 'b@3', 'b@6', 'c@4']);
    expect(q.getStats()).toMatchObject({ processed: 3, dropped: 3, waiting: 0 });
    await model.release();
  });

  it('an urgent frame (a dwell about to complete) goes ahead of the round-robin, is never the one given up, and a newer frame replacing it keeps its place', async () => {
    const model = new Gated(
      await Model.load(
        tinyModel({ id: 'slow', labels: ['person', 'car'], output: { decoder: 'yolov8' }, outputs: [PERSON_V8] }),
        tinyDir,
        1,
      ),
    );
    const released: string[] = [];
    const dropped: string[] = [];
    const done: string[] = [];
    const q = new DetectQueue({ model, capacity: 3 });
    const sink = sinkInto(done, dropped, (f) => expect(q.discard(f)).toBe(false));
    q.push(frame('a', 1, released), sink);
    await new Promise((r) => setImmediate(r)); // a@1 is running, held at the gate
    q.push(frame('b', 2, released), sink);
    q.push(frame('c', 3, released), sink);
    q.push(frame('a', 4, released), sink, true); // a was served last, but this frame is urgent
    q.push(frame('d', 5, released), sink); // full, d ties with b and c (never served) and came last: refused; a@4 never goes
    q.push(frame('e', 6, released), sink, true); // full and urgent: c (the newest claim) gives way
    q.push(frame('a', 7, released), sink); // a newer frame of a replaces a@4 and keeps its urgent place
    expect(dropped).toEqual(['d@5', 'c@3', 'a@4']);
    let settled = false;
    const idle = q.settled().then(() => (settled = true));
    while (!settled) {
      model.open();
      await Promise.race([idle, new Promise((r) => setTimeout(r, 20))]);
    }
    // Urgent first, in the order they came; then the round-robin.
    expect(done).toEqual(['a@1', 'a@7', 'e@6', 'b@2']);
    await model.release();
  });

  it('under heavy overload every camera gets about the same number of turns, in round-robin order', async () => {
    const model = new Slowed(
      await Model.load(
        tinyModel({ id: 'slowed', labels: ['person', 'car'], output: { decoder: 'yolov8' }, outputs: [PERSON_V8] }),
        tinyDir,
        1,
      ),
      15,
    );
    const done: string[] = [];
    const dropped: string[] = [];
    const sink = sinkInto(done, dropped);
    const q = new DetectQueue({ model, capacity: 4 });
    const cameras = Array.from({ length: 12 }, (_, i) => `cam${i}`);
    // Every camera offers a frame every 10 ms, always in the same order: about 25 times
    // what the model can take. A queue that favours late arrivals starves the first ones.
    let ts = 0;
    const tick = setInterval(() => {
      ts++;
      for (const c of cameras) q.push(frame(c, ts, []), sink);
    }, 10);
    await new Promise((r) => setTimeout(r, 1500));
    clearInterval(tick);
    await q.settled();
    const turns = cameras.map((c) => done.filter((d) => d.startsWith(`${c}@`)).length);
    expect(done.length).toBeGreaterThanOrEqual(24); // at least two rounds, even on a loaded machine
    expect(Math.min(...turns)).toBeGreaterThanOrEqual(Math.floor(done.length / cameras.length) - 1);
    expect(Math.max(...turns) - Math.min(...turns)).toBeLessThanOrEqual(1);
    // Round-robin: within any window of 12 consecutive turns no camera comes twice.
    const order = done.map((d) => d.split('@')[0]);
    for (let i = 0; i + cameras.length <= order.length; i++) expect(new Set(order.slice(i, i + cameras.length)).size).toBe(cameras.length);
    await model.release();
  });
});

describe('per-frame join of several models on one camera', () => {
  const det = (label: string, box: number[], score = 0.8): Detection => ({ label, score, box: box as unknown as Detection['box'] });
  const detected = (model: string, f: Frame, detections: Detection[]): Detected => ({
    model,
    frame: f,
    detections,
    timing: { preMs: 0, inferMs: 0, postMs: 0 },
    batch: 1,
  });

  function setup(models = 2) {
    const delivered: { ts: number; dets: Detection[] }[] = [];
    const dropped: number[] = [];
    const join = new FrameJoin({
      models,
      ignoreForStatic: new Set(['person']),
      deliver: (f, d) => delivered.push({ ts: f.ts, dets: d }),
      dropped: (f) => dropped.push(f.ts),
    });
    return { join, delivered, dropped };
  }

  it('hands the tracker one list per frame, once every model answered, whatever the order', () => {
    const { join, delivered } = setup();
    const released: string[] = [];
    const f = shareFrame(frame('cam', 1, released), 2);
    join.start(f, []);
    join.result(detected('garbage_v2', f, [det('garbage', [0.1, 0.5, 0.2, 0.6])]));
    expect(delivered).toEqual([]);
    join.result(detected('yolox', f, [det('car', [0.5, 0.5, 0.9, 0.9])]));
    expect(delivered).toHaveLength(1);
    expect(delivered[0].dets.map((d) => d.label).sort()).toEqual(['car', 'garbage']);
    // The pool gets the buffer back only when both queues released it.
    f.release();
    expect(released).toEqual([]);
    f.release();
    expect(released).toEqual(['cam@1']);
  });

  it('one object seen by both models under one label is one detection (the surer)', () => {
    const { join, delivered } = setup();
    const f = frame('cam', 1, []);
    join.start(f, []);
    join.result(detected('yolox', f, [det('person', [0.1, 0.1, 0.2, 0.5], 0.7), det('car', [0.5, 0.5, 0.9, 0.9])]));
    join.result(detected('nanodet', f, [det('person', [0.11, 0.1, 0.2, 0.51], 0.9), det('person', [0.6, 0.1, 0.7, 0.5])]));
    expect(delivered[0].dets.map((d) => `${d.label}:${d.score}`)).toEqual(['person:0.9', 'car:0.8', 'person:0.8']);
  });

  it('a frame one model dropped is dropped as a whole, counted once, and never delivered', () => {
    const { join, delivered, dropped } = setup();
    const f = frame('cam', 1, []);
    join.start(f, []);
    expect(join.lost(f)).toBe(true);
    join.result(detected('nanodet', f, [det('car', [0, 0, 1, 1])]));
    expect(delivered).toEqual([]);
    expect(dropped).toEqual([1]);
    expect(join.waiting).toBe(0);
  });

  it('frames are delivered in time order; a late one is dropped rather than taking the tracker back', () => {
    const { join, delivered, dropped } = setup(1);
    const f1 = frame('cam', 1, []);
    const f2 = frame('cam', 2, []);
    join.start(f1, []);
    join.start(f2, []);
    join.result(detected('m', f2, []));
    join.result(detected('m', f1, []));
    expect(delivered.map((d) => d.ts)).toEqual([2]);
    expect(dropped).toEqual([1]);
  });

  it('adds the static-change regions, except one a person (an ignored class) explains', () => {
    const { join, delivered } = setup(1);
    const f = frame('cam', 1, []);
    join.start(f, [det('static_change', [0.1, 0.5, 0.2, 0.9]), det('static_change', [0.6, 0.6, 0.7, 0.7])]);
    join.result(detected('yolox', f, [det('person', [0.09, 0.45, 0.21, 0.92])]));
    expect(delivered[0].dets.map((d) => `${d.label}@${d.box[0]}`)).toEqual(['person@0.09', 'static_change@0.6']);
  });
});

describe('models of different input sizes on one camera', () => {
  it('capture scales once, to the largest; stretched only when every model stretches', () => {
    const m = (w: number, h: number, resize: 'letterbox' | 'stretch') => ({ input: { width: w, height: h, resize } }) as never;
    expect(captureSize([m(416, 416, 'letterbox'), m(640, 640, 'letterbox')])).toEqual({ width: 640, height: 640, fit: 'fit' });
    expect(captureSize([m(320, 320, 'stretch'), m(640, 384, 'stretch')])).toEqual({ width: 640, height: 384, fit: 'stretch' });
    expect(captureSize([m(320, 320, 'stretch'), m(416, 416, 'letterbox')])).toEqual({ width: 416, height: 416, fit: 'fit' });
    expect(captureSize([])).toEqual({ width: 416, height: 416, fit: 'fit' });
  });

  it('the preprocessor resamples a larger frame into the letterbox, bilinearly, keeping the aspect', () => {
    const p = new Preprocessor({ width: 4, height: 4, channels: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], pad: 7 }, 1, { resample: true });
    // 8x4 horizontal ramp: R = 10 * x. Fits 4x4 as 4x2.
    const rgb = new Uint8Array(8 * 4 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) rgb[(y * 8 + x) * 3] = 10 * x;
    p.fill(rgb, 8, 4);
    expect([p.pictureW[0], p.pictureH[0]]).toEqual([4, 2]);
    expect(Array.from(p.data.subarray(0, 4))).toEqual([5, 25, 45, 65]); // centres of pixel pairs
    expect(p.data[2 * 4]).toBe(7); // row 2: padding
  });

  it('cameras of different shapes on one model: every fill equals a fresh one (the padding is patched, not redone)', () => {
    const spec = { width: 8, height: 8, channels: 'bgr' as const, mean: [10, 20, 30], std: [2, 3, 4], pad: 114 };
    const reused = new Preprocessor(spec);
    let seed = 7; // xorshift32: a fixed, varied sequence of frame sizes
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (let k = 0; k < 60; k++) {
      const w = 1 + rand(8),
        h = 1 + rand(8);
      const rgb = Uint8Array.from({ length: w * h * 3 }, () => rand(256));
      reused.fill(rgb, w, h);
      const fresh = new Preprocessor(spec);
      fresh.fill(rgb, w, h);
      expect(Array.from(reused.data), `${w}x${h} after ${k} frames`).toEqual(Array.from(fresh.data));
    }
  });

  it('and stretches a frame of another size to the whole input', () => {
    const p = new Preprocessor({ width: 4, height: 4, channels: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], pad: 0, resize: 'stretch' }, 1, {
      resample: true,
    });
    p.fill(new Uint8Array(2 * 2 * 3).fill(50), 2, 2);
    expect([p.pictureW[0], p.pictureH[0]]).toEqual([4, 4]);
    expect(p.data[15]).toBe(50);
    const strict = new Preprocessor({ width: 4, height: 4, channels: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], pad: 0, resize: 'stretch' });
    expect(() => strict.fill(new Uint8Array(12), 2, 2)).toThrow(/not the model input 4x4; the capture must stretch it/);
  });

  it('YOLOX-Nano on a frame scaled for a 640 model finds the bus where it does at 416', async () => {
    const m = await Model.load(loadManifest('yolox_nano'), FILES, 2, { resample: true });
    const at = async (size: number) => {
      const { data, info } = await sharp(join(FILES, 'bus.jpg'))
        .resize(size, size, { fit: 'inside' })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      return m.detect(data, info.width, info.height);
    };
    const [small, large] = [await at(416), await at(640)];
    const bus = (d: Detection[]) => d.filter((x) => x.label === 'bus').sort((a, b) => b.score - a.score)[0];
    expect(iou(bus(small).box, bus(large).box)).toBeGreaterThan(0.9);
    expect(large.filter((d) => d.label === 'person').length).toBeGreaterThanOrEqual(3);
    await m.release();
  });
});

describe('settings for several models and static change', () => {
  const base = (cam: string) => `
cameras:
  - id: c1
    url: rtsp://10.0.0.1/sub
    location: { lat: 28.7, lon: 118.5 }
${cam}`;
  const issues = (text: string): ConfigIssue[] => {
    try {
      parseSettings(text, '/etc/gateway/settings.yaml', {});
    } catch (e) {
      return (e as ConfigError).issues;
    }
    return [];
  };

  it('models: a list; a rule may name any of their classes, or static_change', () => {
    const s = parseSettings(
      base(`    models: [yolox_nano, nanodet_m]
    zones:
      - id: z
        polygon: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]
        rules: [{ type: garbage_exposure, classes: [static_change, bench] }]`),
      '/etc/gateway/settings.yaml',
      {},
    );
    expect(s.settings.cameras[0].models).toEqual(['yolox_nano', 'nanodet_m']);
    expect(s.settings.cameras[0].static_change).toMatchObject({
      persist_s: 30,
      sensitivity: 0.5,
      ignore_classes: expect.arrayContaining(['person', 'car']),
    });
    expect(s.settings.detector).toMatchObject({ batch: 4, worker_threads: true });
  });

  it('model and models together, a missing model in the list, an unknown static zone: each named', () => {
    const found = issues(
      base(`    model: yolox_nano
    models: [yolox_nano, garbage_v9]
    static_change: { zones: [nowhere] }
    zones:
      - id: z
        polygon: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]
        rules: [{ type: garbage_exposure, classes: [static_change] }]`),
    );
    const msg = (re: RegExp) => found.find((i) => re.test(i.message));
    expect(msg(/either model or models/)?.path).toEqual(['cameras', 0, 'models']);
    expect(msg(/model "garbage_v9": no manifest/)?.path).toEqual(['cameras', 0, 'models', 1]);
    expect(msg(/no zone with id "nowhere"/)?.path).toEqual(['cameras', 0, 'static_change', 'zones', 0]);
    expect(msg(/static_change.zones does not watch zone "z"/)?.path).toEqual(['cameras', 0, 'zones', 0, 'rules', 0, 'classes']);
  });
});

describe.runIf(havePeers('ffmpeg', 'mosquitto'))('through the gateway', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let clip = '';
  const dir = tempDir('gw-runtime-');
  const models = join(dir, 'models');

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url);
    clip = await ensureScenario('spine-stay', { out: join(ROOT, 'data', 'scenarios') });
    mkdirSync(models, { recursive: true });
    copyFileSync(join(MODELS_DIR, 'coco80.labels'), join(models, 'coco80.labels'));
  }, 120_000);
  afterAll(async () => {
    await heard?.close();
    await broker?.stop();
  });

  const yaml = (gw: string, cam: string) => `
gateway: { id: ${gw}, data_dir: ${dir}/${gw} }
mqtt: { url: '${broker.url}', prefix: t }
models: { dir: ${models}, files_dir: ${FILES} }
tracking: { max_missed_s: 4 }
cameras:
  - id: cam
    url: ${clip}
    location: { lat: 28.77, lon: 118.55 }
${cam}
    zones:
      - id: plaza
        polygon: [[0.45, 0.78], [0.98, 0.78], [0.98, 0.999], [0.45, 0.999]]
        rules: [{ type: illegal_parking, dwell_s: 3 }]
`;

  async function parkedTaxi(gwId: string, cam: string): Promise<{ gw: Gateway; event: Record<string, unknown> }> {
    const gw = await startGateway(settingsAt(dir, yaml(gwId, cam)));
    try {
      const ev = await heard.waitFor((m) => m.topic === `t/v1/gateways/${gwId}/events`, 40_000, `${gwId} event`);
      return { gw, event: ev.json! };
    } catch (e) {
      await gw.stop();
      throw e;
    }
  }

  it('a manifest-only change switches the camera from YOLOX to NanoDet, with the same settings', async () => {
    const manifest = (id: string) => ({ ...JSON.parse(readFileSync(join(MODELS_DIR, `${id}.json`), 'utf8')), id: 'street' });
    writeFileSync(join(models, 'street.json'), JSON.stringify(manifest('yolox_nano')));
    const a = await parkedTaxi('gw-yolox', '    model: street');
    expect(a.gw.runtime.models.get('street')!.detector.manifest.output.decoder).toBe('yolox');
    expect(a.event).toMatchObject({ type: 'illegal_parking' });
    await a.gw.stop();

    writeFileSync(join(models, 'street.json'), JSON.stringify(manifest('nanodet_m')));
    const b = await parkedTaxi('gw-nanodet', '    model: street');
    expect(b.gw.runtime.models.get('street')!.detector.manifest.output.decoder).toBe('nanodet');
    expect(b.event).toMatchObject({ type: 'illegal_parking' });
    expect((b.event.classes as string[]).some((c) => ['car', 'truck', 'bus'].includes(c))).toBe(true);
    // Both saw the taxi in the same place.
    expect(iou(a.event.box as never, b.event.box as never)).toBeGreaterThan(0.6);
    expect(b.gw.cameraHealth()[0].reason).toBeNull();
    await b.gw.stop();
  }, 120_000);

  it('a camera running YOLOX and NanoDet together: every frame through both, one event', async () => {
    writeFileSync(join(models, 'yolox_nano.json'), readFileSync(join(MODELS_DIR, 'yolox_nano.json')));
    writeFileSync(join(models, 'nanodet_m.json'), readFileSync(join(MODELS_DIR, 'nanodet_m.json')));
    const { gw, event } = await parkedTaxi('gw-both', '    models: [yolox_nano, nanodet_m]');
    try {
      expect(event).toMatchObject({ type: 'illegal_parking' });
      const stats = gw.runtime.stats();
      expect(stats.yolox_nano.processed).toBeGreaterThan(3);
      expect(stats.nanodet_m.processed).toBeGreaterThan(3);
      await new Promise((r) => setTimeout(r, 3000));
      expect(heard.find((m) => m.topic === 't/v1/gateways/gw-both/events')).toHaveLength(1);
    } finally {
      await gw.stop();
    }
  }, 90_000);
});
