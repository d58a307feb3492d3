/**
 * fp32 against int8 YOLOX-Nano, in figures (not a test): milliseconds per inference
 * (p50/p95 of the wall clock) and CPU milliseconds per inference, with 1 and 2
 * onnxruntime threads, over the four sample pictures.
 *
 *   node --import tsx scripts/bench-int8.ts [--runs 100]
 *
 * The two models run interleaved, run for run, so whatever else the machine does hits
 * both alike. Threads do not spin between runs (as detector.spin false), so the CPU
 * column is work, not waiting. The int8 file is built from the fp32 one and the recipe
 * (as `gateway models fetch` does) and checked against its manifest first.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { buildInt8, type Int8Recipe } from '../gateway/detect/int8.ts';
import { loadManifest } from '../gateway/detect/manifest.ts';
import { Preprocessor } from '../gateway/detect/preprocess.ts';
import { MODELS_DIR, filesDir } from '../gateway/paths.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '100' } } });
const RUNS = Number(values.runs);
const IMAGES = ['bus.jpg', 'street.png', 'dog.jpg', 'person.jpg'];

const fp32Manifest = loadManifest('yolox_nano');
const int8Manifest = loadManifest('yolox_nano_int8');
const fp32 = readFileSync(join(filesDir(), fp32Manifest.file));
const recipe = JSON.parse(readFileSync(join(MODELS_DIR, int8Manifest.build!.recipe), 'utf8')) as Int8Recipe;
const int8 = await buildInt8(fp32, recipe);
const sha = createHash('sha256').update(int8).digest('hex');
if (sha !== int8Manifest.sha256) throw new Error(`int8 build ${sha} is not the manifest's ${int8Manifest.sha256}`);

const { width: W, height: H } = fp32Manifest.input;
const inputs: ort.Tensor[] = [];
for (const img of IMAGES) {
  const { data, info } = await sharp(join(filesDir(), img))
    .resize(W, H, { fit: 'inside' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const pre = new Preprocessor(fp32Manifest.input, 1);
  pre.fill(data, info.width, info.height);
  inputs.push(new ort.Tensor('float32', pre.data, [1, 3, H, W]));
}

const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
const f1 = (v: number) => v.toFixed(1).padStart(6);

console.log(`YOLOX-Nano 416x416, ${RUNS} runs each over ${IMAGES.length} pictures, onnxruntime-node ${ort.env.versions.common}`);
console.log('threads  model   p50 ms   p95 ms   CPU ms/run');
for (const threads of [1, 2]) {
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const sessions = { fp32: await ort.InferenceSession.create(fp32, opts), int8: await ort.InferenceSession.create(int8, opts) };
  const wall = { fp32: [] as number[], int8: [] as number[] };
  const cpu = { fp32: 0, int8: 0 };
  for (let i = -10; i < RUNS; i++) {
    for (const k of ['fp32', 'int8'] as const) {
      const s = sessions[k];
      const feeds = { [s.inputNames[0]]: inputs[(i + 10) % inputs.length] };
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await s.run(feeds);
      const t = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (i < 0) continue;
      wall[k].push(t);
      cpu[k] += (c.user + c.system) / 1000;
    }
  }
  for (const k of ['fp32', 'int8'] as const) {
    console.log(`${String(threads).padStart(7)}  ${k}  ${f1(q(wall[k], 0.5))}   ${f1(q(wall[k], 0.95))}   ${f1(cpu[k] / RUNS)}`);
    await sessions[k].release();
  }
  const change = (r: number, more: string, less: string) => `${(Math.abs(1 - r) * 100).toFixed(0)}% ${r <= 1 ? less : more}`;
  console.log(
    `${String(threads).padStart(7)}  int8: p50 ${change(q(wall.int8, 0.5) / q(wall.fp32, 0.5), 'slower', 'faster')}, CPU ${change(cpu.int8 / cpu.fp32, 'more', 'less')}`,
  );
}
