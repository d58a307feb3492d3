/**
 * Detection cost, in figures (not a test): where a frame's time goes, and what the
 * gateway adds around session.run.
 *
 *   node --import tsx scripts/bench-detect.ts [--runs 60] [--threads 2] [--seconds 6] [--cameras 1,4,8,16]
 *
 * 1. Per model at 416x416, over the four sample pictures: preprocessing (RGB to planar
 *    floats), inference, postprocessing (decode + NMS), against bare session.run on the
 *    same tensors, interleaved run for run so drift hits both alike. Then the same model
 *    hosted in a worker thread (as the gateway runs it): the round trip seen from the
 *    main thread, and how long the main thread was busy.
 * 2. One shared session serving N cameras, closed loop (each camera sends its next frame
 *    when the last comes back): frames per second and latency, batch 1 against batch 4.
 *    YOLOX-Nano's export has a fixed batch of 1; its graph is given a dynamic batch
 *    (scripts/onnx-tools.ts) and the items are checked against batch-1 results first.
 * 3. The static-change detector's cost per frame, on scenario clips (alone: --static-only).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import ort from 'onnxruntime-node';
import { Model } from '../gateway/detect/model.ts';
import { ModelHost } from '../gateway/detect/host.ts';
import { loadManifest, type Manifest } from '../gateway/detect/manifest.ts';
import { DetectQueue, type FrameSink } from '../gateway/detect/queue.ts';
import type { Detector, FrameLike, RunTiming } from '../gateway/detect/types.ts';
import { StaticChangeDetector } from '../gateway/detect/static/detector.ts';
import { MODELS_DIR, ROOT } from '../gateway/paths.ts';
import { withDynamicBatch } from './onnx-tools.ts';
import { ensureScenario, loadScenario } from './scenario.ts';
import { clipFrames } from './clip-frames.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '60' },
    threads: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '6' },
    cameras: { type: 'string', default: '1,4,8,16' },
    'static-only': { type: 'boolean' },
  },
});
const RUNS = Number(values.runs);
const THREADS = Number(values.threads);
const SECONDS = Number(values.seconds);
const CAMERAS = values.cameras!.split(',').map(Number);
const FILES = join(MODELS_DIR, 'files');
const IMAGES = ['bus.jpg', 'street.png', 'dog.jpg', 'person.jpg'];

const _mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const quantile = (a: number[], q: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * q))];
const median = (a: number[]) => quantile(a, 0.5);
/** The 10th percentile: what a run costs when nothing else on the machine gets in its way. */
const low = (a: number[]) => quantile(a, 0.1);
const ms = (v: number) => v.toFixed(2).padStart(6);
const pct = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`;

async function pictures(size: number): Promise<FrameLike[]> {
  return Promise.all(
    IMAGES.map(async (img) => {
      const { data, info } = await sharp(join(FILES, img))
        .resize(size, size, { fit: 'inside' })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      // In shared memory, as the capture pool allocates frames.
      const shared = new Uint8Array(new SharedArrayBuffer(data.length));
      shared.set(data);
      return { data: shared, width: info.width, height: info.height };
    }),
  );
}

async function split(id: string, frames: FrameLike[]): Promise<void> {
  const manifest = loadManifest(id);
  const m = await Model.load(manifest, FILES, THREADS);
  const inputName = manifest.input.name ?? m.session.inputNames[0];
  // The bare runs get the very tensors the gateway builds, copied out once.
  const tensors: ort.Tensor[] = [];
  for (const f of frames) {
    await m.detectBatch([f]);
    const input = (m as unknown as { inputs: ort.Tensor[] }).inputs[1];
    tensors.push(new ort.Tensor('float32', Float32Array.from(input.data as Float32Array), input.dims));
  }
  const t: RunTiming = { preMs: 0, inferMs: 0, postMs: 0 };
  const pre: number[] = [],
    infer: number[] = [],
    post: number[] = [],
    bare: number[] = [],
    paired: number[] = [];
  for (let i = 0; i < 5; i++) await m.detectBatch([frames[i % frames.length]], t); // warm
  for (let i = 0; i < RUNS; i++) {
    const k = i % frames.length;
    await m.detectBatch([frames[k]], t);
    pre.push(t.preMs);
    infer.push(t.inferMs);
    post.push(t.postMs);
    const b0 = performance.now();
    await m.session.run({ [inputName]: tensors[k] });
    bare.push(performance.now() - b0);
    paired.push((t.preMs + t.inferMs + t.postMs) / bare[i]);
  }
  const total = pre.map((v, i) => v + infer[i] + post[i]);
  console.log(
    `\n${id} (${manifest.output.decoder}, ${manifest.input.width}x${manifest.input.height}, ${RUNS} runs, ${THREADS} threads; p10 / median in ms)`,
  );
  const row = (name: string, a: number[], what: string) => console.log(`  ${name.padEnd(12)} ${ms(low(a))} / ${ms(median(a))}   ${what}`);
  row('preprocess', pre, 'RGB → planar floats, reused buffer');
  row('inference', infer, 'session.run inside the gateway');
  row('postprocess', post, 'decode + NMS');
  row('gateway', total, 'per frame, all three');
  row('bare run', bare, 'session.run alone on the same tensors, interleaved run for run');
  console.log(
    `  ratio        ${(low(total) / low(bare)).toFixed(3)} at p10, ${(median(total) / median(bare)).toFixed(3)} at the median, ${median(paired).toFixed(3)} run by run`,
  );
  console.log(
    `               the gateway's own work (pre + post) is ${pct((median(pre) + median(post)) / median(bare))} of bare inference`,
  );

  // As the gateway runs it: in a worker thread. Its session.run is timed inside the worker,
  // so the ratio is the whole round trip seen from the main thread over bare inference.
  // (No second session runs meanwhile: two spinning thread pools would slow each other.)
  await m.release();
  const host = await ModelHost.load(manifest, FILES, THREADS);
  const round: number[] = [],
    ipc: number[] = [],
    inWorker: number[] = [],
    paired2: number[] = [];
  for (let i = 0; i < 5; i++) await host.detectBatch([frames[i % frames.length]]);
  for (let i = 0; i < RUNS; i++) {
    const h: RunTiming = { preMs: 0, inferMs: 0, postMs: 0 };
    const t0 = performance.now();
    await host.detectBatch([frames[i % frames.length]], h);
    round.push(performance.now() - t0);
    ipc.push(h.ipcMs ?? 0);
    inWorker.push(h.inferMs);
    paired2.push(round[i] / h.inferMs);
  }
  console.log(
    `  in a worker  ${ms(low(round))} / ${ms(median(round))}   round trip seen from the main thread; session.run in the worker ${ms(low(inWorker))} / ${ms(median(inWorker))}, hand-over ${ms(median(ipc))}`,
  );
  console.log(`               ratio ${median(paired2).toFixed(3)} run by run (pre, post and the hand-over between threads)`);
  await host.release();
}

/** YOLOX-Nano with a symbolic batch dimension, checked item by item against batch 1. */
async function batchable(dir: string): Promise<Manifest | null> {
  const bytes = withDynamicBatch(readFileSync(join(FILES, 'yolox_nano.onnx')));
  writeFileSync(join(dir, 'yolox_nano_b.onnx'), bytes);
  const m = JSON.parse(readFileSync(join(MODELS_DIR, 'yolox_nano.json'), 'utf8'));
  Object.assign(m, {
    id: 'yolox_nano_b',
    file: 'yolox_nano_b.onnx',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    labels: join(MODELS_DIR, 'coco80.labels'),
  });
  writeFileSync(join(dir, 'yolox_nano_b.json'), JSON.stringify(m));
  return loadManifest(join(dir, 'yolox_nano_b.json'));
}

interface Result {
  fps: number;
  /** Frames per second of CPU time used by this process (all threads): capacity on a quiet box. */
  perCpuS: number;
  meanBatch: number;
  p50: number;
  p90: number;
}

/** N cameras, each sending its next frame as soon as the last came back (or was dropped). */
async function throughput(det: Detector, frames: FrameLike[], cameras: number): Promise<Result> {
  let processed = 0;
  const latency: number[] = [];
  let stop = false;
  const sent = new Map<string, number>();
  let send: (cam: number) => void = () => {};
  const q = new DetectQueue({ model: det, capacity: Math.max(8, cameras) });
  const sink: FrameSink = {
    detected: (r) => {
      processed++;
      latency.push(performance.now() - sent.get(r.frame.camera)!);
      send(Number(r.frame.camera));
    },
    lost: (f) => send(Number(f.camera)),
    failed: (_f, e) => {
      throw e;
    },
  };
  send = (cam) => {
    if (stop) return;
    const f = frames[cam % frames.length];
    sent.set(String(cam), performance.now());
    q.push({ camera: String(cam), ts: Date.now(), width: f.width, height: f.height, data: f.data as Buffer, release: () => {} }, sink);
  };
  for (let c = 0; c < cameras; c++) send(c);
  await new Promise((r) => setTimeout(r, 500)); // warm
  processed = 0;
  latency.length = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, (SECONDS * 1000) / 2));
  const fps = processed / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(c0);
  const perCpuS = processed / ((cpu.user + cpu.system) / 1e6);
  stop = true;
  await q.settled();
  const sorted = [...latency].sort((a, b) => a - b);
  return { fps, perCpuS, meanBatch: q.getStats().meanBatch, p50: sorted[sorted.length >> 1], p90: sorted[Math.floor(sorted.length * 0.9)] };
}

async function sharedSession(frames: FrameLike[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-detect-'));
  try {
    const manifest = await batchable(dir);
    if (!manifest) return;
    // The items of a batch must come out as they do one at a time.
    const one = await Model.load(manifest, dir, THREADS, { batch: 1 });
    const four = await Model.load(manifest, dir, THREADS, { batch: 4 });
    const single = [];
    for (const f of frames) single.push((await one.detectBatch([f]))[0]);
    const batched = await four.detectBatch(frames);
    const same = JSON.stringify(single) === JSON.stringify(batched);
    await one.release();
    await four.release();
    console.log(
      `\nOne shared yolox_nano session serving N cameras (in a worker, ${THREADS} threads, 2 x ${SECONDS / 2} s each, closed loop; the better of two)`,
    );
    console.log(
      `  frames/s is wall clock; frames per CPU-second counts this process's CPU time (all threads), which other load on the machine disturbs less`,
    );
    console.log(`  dynamic-batch graph: batch of 4 gives the same detections as one at a time: ${same ? 'yes' : 'NO'}`);
    if (!same) return;
    // Both configurations side by side, measured in alternation: a shared machine's load
    // changes from minute to minute, and hits both alike this way.
    const hosts = {
      1: await ModelHost.load(manifest, dir, THREADS, { batch: 1 }),
      4: await ModelHost.load(manifest, dir, THREADS, { batch: 4 }),
    };
    for (const n of CAMERAS) {
      const got: Record<number, Result[]> = { 1: [], 4: [] };
      for (let round = 0; round < 2; round++) for (const b of [1, 4] as const) got[b].push(await throughput(hosts[b], frames, n));
      for (const b of [1, 4] as const) {
        const best = got[b].sort((x, y) => y.fps - x.fps)[0];
        const cpuBest = Math.max(...got[b].map((r) => r.perCpuS));
        console.log(
          `  batch ${b}  ${String(n).padStart(3)} cameras  ${best.fps.toFixed(1).padStart(6)} frames/s  ${cpuBest.toFixed(1).padStart(5)} frames per CPU-second  mean batch ${best.meanBatch.toFixed(2)}  latency median ${ms(best.p50)} ms  p90 ${ms(best.p90)} ms`,
        );
      }
    }
    await hosts[1].release();
    await hosts[4].release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function staticChange(): Promise<void> {
  // Real scenes: static-drop (people passing, a heap put down, the light dimming; a zone of
  // 14% of the frame), lighting-static (dusk, a shower and back; 21%), and one zone over the
  // whole frame of the latter for the worst case.
  const whole: [number, number][] = [
    [0, 0],
    [1, 0],
    [1, 1],
    [0, 1],
  ];
  const scenes: { name: string; zone: [number, number][]; what: string }[] = [
    { name: 'static-drop', zone: loadScenario('static-drop').zone as [number, number][], what: 'one zone of 14% of the frame' },
    {
      name: 'lighting-static',
      zone: loadScenario('lighting-static').zones![0].polygon as [number, number][],
      what: 'one zone of 21% of the frame, dusk',
    },
    { name: 'lighting-static', zone: whole, what: 'one zone over the whole frame, dusk' },
  ];
  console.log('\nStatic change (640x360 frames → 128 px grayscale; in the main thread):');
  for (const s of scenes) {
    const clip = await ensureScenario(s.name, { out: join(ROOT, 'data', 'scenarios') });
    const frames = await clipFrames(clip, { width: 640, height: 640 });
    const d = new StaticChangeDetector([{ id: 'z', polygon: s.zone }], {
      width: 128,
      persistS: 10,
      learnS: 300,
      sensitivity: 0.5,
      minArea: 0.002,
      absorbS: 0,
    });
    let ts = 0;
    for (const f of frames) d.process(f, (ts += 1000));
    const n = Math.max(450, 2 * frames.length);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) d.process(frames[i % frames.length], (ts += 1000));
    console.log(`  ${s.name}, ${s.what}: ${ms((performance.now() - t0) / n)} ms per frame`);
  }
}

console.log(
  `bench-detect: node ${process.version}, onnxruntime-node ${ort.env.versions.common}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`,
);
if (!values['static-only']) {
  const frames = await pictures(416);
  for (const id of ['yolox_nano', 'nanodet_m']) await split(id, frames);
  await sharedSession(frames);
}
await staticChange();
