/**
 * Failures are clear, at start, and contained:
 * - a label count that does not match the outputs, or a wrong input shape, in every
 *   format, is refused at load with the model's name and what was expected;
 * - a model worker that dies fails only the runs in flight and comes back by itself;
 * - in a running gateway, a camera whose model has corrupt weights is marked
 *   "detector failed" (offline, with the reason), a camera with one bad model of two
 *   keeps detecting with the other, and a healthy camera carries on as if nothing
 *   happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { Model, ModelError } from '../../gateway/detect/model.ts';
import { ModelHost } from '../../gateway/detect/host.ts';
import { loadManifest } from '../../gateway/detect/manifest.ts';
import type { ToWorker } from '../../gateway/detect/worker.ts';
import type { Worker } from 'node:worker_threads';
import { MODELS_DIR, ROOT } from '../../gateway/paths.ts';
import { ensureScenario } from '../../scripts/scenario.ts';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { startGateway, tempDir } from '../helpers/gateway.ts';
import { ConfigError, parseSettings } from '../../gateway/settings/load.ts';
import type { Gateway } from '../../gateway/controller.ts';
import { columns, grey, tinyDir, tinyModel, type TinySpec } from './tiny-models.ts';

afterAll(() => rmSync(tinyDir, { recursive: true, force: true }));

async function loadError(spec: TinySpec): Promise<Error> {
  const e = await Model.load(tinyModel(spec), tinyDir, 1).then(
    (m) => m.release().then(() => null),
    (err: Error) => err,
  );
  if (!e) throw new Error('the model loaded');
  expect(e).toBeInstanceOf(ModelError);
  expect(e.message).toMatch(new RegExp(`^model "${spec.id}": `));
  return e;
}

describe('refused at load, saying what does not match', () => {
  const rows = (n: number, k: number) => new Array(n * k).fill(0);

  it('YOLOv5: 4 labels, but rows of 5 + 3', async () => {
    const e = await loadError({
      id: 'v5bad',
      labels: ['a', 'b', 'c', 'd'],
      outputs: [{ name: 'output', shape: [1, 6, 8], base: rows(6, 8) }],
    });
    expect(e.message).toContain('output is [1,6,8]: neither dimension is 5 + 4');
    expect(e.message).toContain('labels file has 4 classes');
  });

  it('YOLOv8: 2 labels, but columns of 4 + 3', async () => {
    const e = await loadError({
      id: 'v8bad',
      labels: ['a', 'b'],
      output: { decoder: 'yolov8' },
      outputs: [{ name: 'output0', shape: [1, 7, 5], base: rows(5, 7) }],
    });
    expect(e.message).toContain('neither dimension is 4 + 2');
  });

  it('YOLOv8 with a layout forced the wrong way round', async () => {
    const e = await loadError({
      id: 'v8layout',
      labels: ['a', 'b', 'c'],
      output: { decoder: 'yolov8', layout: 'rows' },
      outputs: [{ name: 'output0', shape: [1, 7, 6], base: rows(6, 7) }],
    });
    expect(e.message).toContain('YOLOv8 output is [1,7,6], expected [1,N,7] or [1,7,N]');
  });

  it('end-to-end: per-class scores for 5 classes, 3 labels', async () => {
    const e = await loadError({
      id: 'e2ebad',
      labels: ['a', 'b', 'c'],
      output: { decoder: 'e2e' },
      outputs: [
        { name: 'boxes', shape: [1, 2, 4], base: rows(2, 4) },
        { name: 'scores', shape: [1, 2, 5], base: rows(2, 5) },
      ],
    });
    expect(e.message).toContain('end-to-end scores are [1,2,5]: 5 classes, the labels file has 3');
  });

  it('end-to-end: a combined tensor whose columns the manifest does not explain', async () => {
    const e = await loadError({
      id: 'e2ecols',
      labels: ['a'],
      output: { decoder: 'e2e' },
      outputs: [{ name: 'dets', shape: [1, 3, 9], base: rows(3, 9) }],
    });
    expect(e.message).toContain('say what its 9 columns hold in output.columns');
  });

  it('an input of another size than the manifest says', async () => {
    const e = await loadError({
      id: 'size',
      labels: ['a'],
      inputSize: 96,
      outputs: [{ name: 'output', shape: [1, 2, 6], base: rows(2, 6) }],
    });
    expect(e.message).toContain('input shape is [1,3,96,96], the manifest says [1,3,64,64]');
  });

  it('an output named in the manifest that the model does not have', async () => {
    const e = await loadError({
      id: 'named',
      labels: ['a'],
      output: { tensors: { detections: 'dets' } },
      outputs: [{ name: 'output', shape: [1, 2, 6], base: rows(2, 6) }],
    });
    expect(e.message).toContain('output "dets" named in the manifest is not in the model (it has output)');
  });

  it('the same errors come from a model loaded in a worker thread', async () => {
    const e = await ModelHost.load(
      tinyModel({ id: 'v5host', labels: ['a', 'b', 'c', 'd'], outputs: [{ name: 'output', shape: [1, 6, 8], base: rows(6, 8) }] }),
      tinyDir,
      1,
    ).then(
      () => null,
      (err: Error) => err,
    );
    expect(e).toBeInstanceOf(ModelError);
    expect(e!.message).toContain('model "v5host": output is [1,6,8]: neither dimension is 5 + 4');
  });
});

describe('a model worker that dies', () => {
  it('fails the runs in flight, says so, and is back after a pause', async () => {
    const states: (string | null)[] = [];
    const manifest = tinyModel({
      id: 'crash',
      labels: ['person', 'car'],
      output: { decoder: 'yolov8' },
      outputs: [{ name: 'output0', shape: [1, 6, 1], base: columns([[20, 20, 10, 20, 0.9, 0.05]]) }],
    });
    const host = await ModelHost.load(manifest, tinyDir, 1, {}, (r) => states.push(r));
    try {
      expect((await host.detectBatch([grey(0)]))[0].map((d) => d.label)).toEqual(['person']);
      // Twenty runs queued; the worker dies under them. None may hang; the unfinished fail.
      const inFlight = Promise.allSettled(Array.from({ length: 20 }, () => host.detectBatch([grey(0)])));
      // It dies as a crashing worker does, from inside (terminate() from outside can land
      // in onnxruntime's native run, and that aborts the whole process).
      const worker = (host as unknown as { worker: Worker }).worker;
      const exited = new Promise((ok) => worker.once('exit', ok));
      worker.postMessage({ type: 'exit', code: 1 } satisfies ToWorker);
      expect(await exited).toBe(1);
      const settled = await inFlight;
      const failed = settled.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(failed.length).toBeGreaterThan(0);
      for (const f of failed) expect(String(f.reason)).toMatch(/model "crash": worker exited/);
      expect(host.down).toMatch(/worker exited/);
      await expect(host.detectBatch([grey(0)])).rejects.toThrow(/model "crash": worker exited/);
      const until = Date.now() + 30_000;
      while (host.down && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(host.down).toBeNull();
      expect(host.restarts).toBe(1);
      expect((await host.detectBatch([grey(0)]))[0].map((d) => d.label)).toEqual(['person']);
      // Up at start, down, up again.
      expect(states).toEqual([null, expect.stringMatching(/worker exited/), null]);
    } finally {
      await host.release();
    }
  });

  it('released in the middle of real runs, it finishes them and ends; the process lives on', async () => {
    const host = await ModelHost.load(loadManifest('yolox_nano'), join(MODELS_DIR, 'files'), 1);
    const frame = { data: new Uint8Array(416 * 416 * 3).fill(90), width: 416, height: 416 };
    const inFlight = Promise.allSettled(Array.from({ length: 6 }, () => host.detectBatch([frame])));
    await new Promise((ok) => setTimeout(ok, 30));
    const worker = (host as unknown as { worker: Worker }).worker;
    const exited = new Promise((ok) => worker.once('exit', ok));
    await host.release();
    const settled = await inFlight;
    // Each run already queued finishes: a session freed under a run would fail it.
    expect(settled.map((s) => s.status)).toEqual(Array(6).fill('fulfilled'));
    expect(await exited).toBe(0);
  });
});

describe.runIf(havePeers('ffmpeg', 'mosquitto'))('failures in a running gateway stay with their cameras', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway | null = null;
  const dir = tempDir('gw-failures-');
  const models = join(dir, 'models');
  const files = join(dir, 'files');

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url);
    const clip = await ensureScenario('spine-stay', { out: join(ROOT, 'data', 'scenarios') });
    mkdirSync(models, { recursive: true });
    mkdirSync(files, { recursive: true });
    for (const f of ['yolox_nano.json', 'nanodet_m.json', 'coco80.labels']) copyFileSync(join(MODELS_DIR, f), join(models, f));
    // A model whose labels file lists 10 classes: the outputs say 80.
    const ten = JSON.parse(readFileSync(join(MODELS_DIR, 'yolox_nano.json'), 'utf8'));
    writeFileSync(
      join(models, 'yolox_ten.json'),
      JSON.stringify({ ...ten, id: 'yolox_ten', labels: Array.from({ length: 10 }, (_, i) => `c${i}`) }),
    );
    copyFileSync(join(MODELS_DIR, 'files', 'yolox_nano.onnx'), join(files, 'yolox_nano.onnx'));
    // Weights damaged in place: the right size (so `gateway check` passes), the wrong bytes.
    copyFileSync(join(MODELS_DIR, 'files', 'nanodet_m.onnx'), join(files, 'nanodet_m.onnx'));
    const fd = openSync(join(files, 'nanodet_m.onnx'), 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, 100_000);
    closeSync(fd);
    const cam = (id: string, model: string) => `
  - id: ${id}
    url: ${clip}
    location: { lat: 28.77, lon: 118.55 }
    ${model}
    zones:
      - id: plaza
        polygon: [[0.45, 0.78], [0.98, 0.78], [0.98, 0.999], [0.45, 0.999]]
        rules: [{ type: illegal_parking, dwell_s: 3 }]`;
    const yaml = `
gateway: { id: gw-fail, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: t }
models: { dir: ${models}, files_dir: ${files} }
tracking: { max_missed_s: 4 }
cameras:${cam('good', 'model: yolox_nano')}${cam('corrupt', 'model: nanodet_m')}${cam('half', 'models: [yolox_nano, yolox_ten]')}${cam('missing', 'model: not_there')}
`;
    const file = join(dir, 'settings.yaml');
    writeFileSync(file, yaml);
    // `gateway check` refuses the missing model; `gateway run` starts and contains it.
    expect(() => parseSettings(yaml, file)).toThrow(ConfigError);
    const config = parseSettings(yaml, file, process.env, { contain: true });
    expect(config.warnings).toEqual([
      expect.stringMatching(/settings\.yaml:\d+:\d+: cameras\[3\]\.model: model "not_there": no manifest at/),
    ]);
    gw = await startGateway(config);
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await heard?.close();
    await broker?.stop();
  });

  const health = (cam: string) => (m: { topic: string }) => m.topic === `t/v1/gateways/gw-fail/cameras/${cam}/health`;

  it('the camera whose only model has corrupt weights is offline, "detector failed", naming the model and why', async () => {
    const h = await heard.waitFor((m) => health('corrupt')(m) && m.json?.reason !== null, 30_000, 'corrupt camera health');
    expect(h.json).toMatchObject({ state: 'offline', code: 'unsupported' });
    expect(h.json!.reason).toMatch(/^detector failed: model "nanodet_m": nanodet_m\.onnx: SHA-256 mismatch/);
    // Retained: the platform sees it whenever it subscribes.
    const late = await Collector.connect(broker.url);
    try {
      const r = await late.waitFor((m) => health('corrupt')(m) && m.json?.reason !== null, 10_000, 'retained health');
      expect(r.retain).toBe(true);
      expect(r.json!.state).toBe('offline');
    } finally {
      await late.close();
    }
  });

  it('the camera whose model has no manifest at all is marked the same way', async () => {
    const h = await heard.waitFor((m) => health('missing')(m) && m.json?.reason !== null, 30_000, 'missing camera health');
    expect(h.json).toMatchObject({ state: 'offline', code: 'unsupported' });
    expect(h.json!.reason).toMatch(/^detector failed: model "not_there": no manifest at .*not_there\.json/);
  });

  it('the camera with one bad model of two says which, and keeps running the other', async () => {
    const h = await heard.waitFor((m) => health('half')(m) && m.json?.reason !== null, 30_000, 'half camera health');
    expect(h.json!.reason).toContain('detector failed: model "yolox_ten": output rows have 85 values, expected 5 + 10');
    expect(h.json!.state).not.toBe('offline');
    const ev = await heard.waitFor(
      (m) => m.topic === 't/v1/gateways/gw-fail/events' && m.json?.camera?.id === 'half',
      40_000,
      'half event',
    );
    expect(ev.json).toMatchObject({ type: 'illegal_parking' });
  });

  it('the healthy camera carries on: online, no reason, its event confirmed', async () => {
    const ev = await heard.waitFor(
      (m) => m.topic === 't/v1/gateways/gw-fail/events' && m.json?.camera?.id === 'good',
      40_000,
      'good event',
    );
    expect(ev.json).toMatchObject({ type: 'illegal_parking' });
    const h = gw!.cameraHealth().find((x) => x.camera === 'good')!;
    expect(h).toMatchObject({ state: 'online', reason: null });
    expect(heard.find((m) => m.topic === 't/v1/gateways/gw-fail/events' && m.json?.camera?.id === 'corrupt')).toHaveLength(0);
    expect([...gw!.runtime.failures.keys()].sort()).toEqual(['nanodet_m', 'not_there', 'yolox_ten']);
  });
});
