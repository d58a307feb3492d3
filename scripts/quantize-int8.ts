/**
 * Calibrates and builds the int8 YOLOX-Nano (models/yolox_nano_int8.json) from the fp32 file.
 *
 *   node --import tsx scripts/quantize-int8.ts [--frames-every S] [--percentile P] [--replan | --build-only]
 *
 * 1. Calibration: the fp32 model, with every activation an int8 node would read or write
 *    added as an output, runs on the sample pictures and on key frames of every scenario
 *    video (rendered by scripts/scenario.ts), and a histogram of each tensor's values over
 *    all those frames is taken (two passes: min/max, then 4,096 bins). Each tensor's range
 *    is the one whose uint8 steps and clipping cost the least squared error over that
 *    histogram (for a conv output that a SiLU reads, the error after the SiLU, where
 *    negative values hardly matter); `--percentile P` takes the (100-P)th..Pth percentile
 *    instead (what the first recipe used, 99.999). The ranges and the nodes kept in fp32
 *    (gateway/detect/int8.ts, defaultFp32) go to models/yolox_nano_int8.recipe.json
 *    (committed).
 * 2. Build: gateway/detect/int8.ts turns the fp32 file and the recipe into the QDQ model,
 *    deterministically (plain arithmetic, no onnxruntime), so `gateway models fetch` makes
 *    the same bytes on any box; the script prints its SHA-256 and size for the manifest.
 *
 * Only step 2 runs on boxes; run step 1 again when the model or the sample scenes change,
 * then update the manifest's sha256 and bytes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { buildInt8, defaultFp32, plan, SILU_FLOOR, type Int8Recipe } from '../gateway/detect/int8.ts';
import { loadManifest } from '../gateway/detect/manifest.ts';
import { Preprocessor } from '../gateway/detect/preprocess.ts';
import { MODELS_DIR, ROOT, filesDir } from '../gateway/paths.ts';
import { ensureScenario, loadScenario, scenarioNames } from './scenario.ts';

const { onnx } = onnxProto;
const IMAGES = ['bus.jpg', 'street.png', 'dog.jpg', 'person.jpg'];
export const RECIPE = join(MODELS_DIR, 'yolox_nano_int8.recipe.json');

/** Planar model inputs of the calibration frames, preprocessed exactly as the gateway does. */
export async function calibrationFrames(o: { everyS: number; files?: string }): Promise<Float32Array[]> {
  const m = loadManifest('yolox_nano');
  const files = o.files ?? filesDir();
  const { width: W, height: H } = m.input;
  const frames: Float32Array[] = [];
  const add = (rgb: Uint8Array, w: number, h: number) => {
    const pre = new Preprocessor(m.input, 1);
    pre.fill(rgb, w, h);
    frames.push(pre.data);
  };
  for (const img of IMAGES) {
    const { data, info } = await sharp(join(files, img))
      .resize(W, H, { fit: 'inside' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    add(data, info.width, info.height);
  }
  for (const name of scenarioNames()) {
    const s = loadScenario(name);
    const video = await ensureScenario(name, { out: join(ROOT, 'data', 'scenarios') });
    const [vw, vh] = s.size;
    const r = Math.min(W / vw, H / vh);
    const w = Math.round((vw * r) / 2) * 2;
    const h = Math.round((vh * r) / 2) * 2;
    const raw = await ffmpegFrames(video, w, h, o.everyS);
    for (let i = 0; i + w * h * 3 <= raw.length; i += w * h * 3) add(raw.subarray(i, i + w * h * 3), w, h);
  }
  return frames;
}

function ffmpegFrames(video: string, w: number, h: number, everyS: number): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const args = [
      '-v',
      'error',
      '-skip_frame',
      'nokey',
      '-i',
      video,
      '-vf',
      `fps=1/${everyS},scale=${w}:${h}`,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ];
    const p = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('error', fail);
    p.on('close', (code) => (code === 0 ? ok(Buffer.concat(out)) : fail(new Error(`ffmpeg ${video}: ${err.trim()}`))));
  });
}

const silu = (x: number) => x / (1 + Math.exp(-x));
const siluSlope = (x: number) => {
  const s = 1 / (1 + Math.exp(-x));
  return s * (1 + x * (1 - s));
};

/**
 * The [lo, hi] (widened to hold 0, as the build does) whose uint8 quantisation costs the least
 * expected squared error over a histogram (`h[i]` values at `a + i * step`): rounding inside
 * (a step squared over 12), clipping outside. With `afterSilu` the error is measured after a
 * SiLU (its slope squared times the rounding error; the SiLU of the clipped value), and lo is
 * searched too, from `floor` up: below about -4 SiLU is almost 0, so the long negative tails
 * of the convs' outputs need few of the 256 steps.
 */
export function mseRange(h: Float64Array, a: number, step: number, afterSilu: boolean, floor: number): [number, number] {
  const b = a + (h.length - 1) * step;
  const his = Array.from({ length: 200 }, (_, k) => b * (0.05 + (0.95 * (k + 1)) / 200));
  const los = afterSilu ? Array.from({ length: 30 }, (_, k) => Math.max(a, floor) * ((k + 1) / 30)) : [a];
  let best: [number, number] = [a, b];
  let bestErr = Infinity;
  for (const lo of los)
    for (const hi of his) {
      const mn = Math.min(lo, 0);
      const mx = Math.max(hi, 0);
      const q2 = ((mx - mn) / 255) ** 2 / 12;
      let e = 0;
      for (let i = 0; i < h.length && e < bestErr; i++) {
        if (!h[i]) continue;
        const x = a + i * step;
        const c = Math.min(mx, Math.max(x, mn));
        if (c !== x) e += h[i] * (afterSilu ? (silu(x) - silu(c)) ** 2 : (x - c) ** 2);
        else e += h[i] * (afterSilu ? siluSlope(x) ** 2 : 1) * q2;
      }
      if (e < bestErr) {
        bestErr = e;
        best = [lo, hi];
      }
    }
  return best;
}

/**
 * The range of each named output over all frames: min/max first, then a histogram, then the
 * least-squared-error range (mseRange; `afterSilu` names the conv outputs a SiLU reads) or,
 * with `percentile`, the (100-P)th..Pth percentile.
 */
async function calibrate(
  fp32: Uint8Array,
  tensors: string[],
  frames: Float32Array[],
  o: { percentile?: number; afterSilu: ReadonlySet<string>; siluFloor: number },
): Promise<Record<string, [number, number]>> {
  const m = onnx.ModelProto.decode(fp32);
  const g = m.graph!;
  const have = new Set((g.output ?? []).map((o) => o.name));
  for (const t of tensors)
    if (!have.has(t))
      g.output!.push(onnx.ValueInfoProto.create({ name: t, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }));
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(m).finish(), {
    intraOpNumThreads: 2,
    graphOptimizationLevel: 'basic',
  });
  const input = session.inputNames[0];
  const run = (f: Float32Array) => session.run({ [input]: new ort.Tensor('float32', f, [1, 3, 416, 416]) }, tensors);
  const lo = new Map(tensors.map((t) => [t, Infinity]));
  const hi = new Map(tensors.map((t) => [t, -Infinity]));
  for (const f of frames) {
    const out = await run(f);
    for (const t of tensors) {
      const d = out[t].data as Float32Array;
      let a = lo.get(t)!;
      let b = hi.get(t)!;
      for (let i = 0; i < d.length; i++) {
        const v = d[i];
        if (v < a) a = v;
        if (v > b) b = v;
      }
      lo.set(t, a);
      hi.set(t, b);
    }
  }
  const BINS = 4096;
  const hist = new Map(tensors.map((t) => [t, new Float64Array(BINS)]));
  for (const f of frames) {
    const out = await run(f);
    for (const t of tensors) {
      const d = out[t].data as Float32Array;
      const a = lo.get(t)!;
      const k = (BINS - 1) / Math.max(hi.get(t)! - a, 1e-12);
      const h = hist.get(t)!;
      for (let i = 0; i < d.length; i++) h[Math.round((d[i] - a) * k)]++;
    }
  }
  await session.release();
  const ranges: Record<string, [number, number]> = {};
  for (const t of tensors) {
    const h = hist.get(t)!;
    const a = lo.get(t)!;
    const step = (hi.get(t)! - a) / (BINS - 1);
    let r: [number, number];
    if (o.percentile === undefined) r = mseRange(h, a, step, o.afterSilu.has(t), o.siluFloor);
    else {
      const total = h.reduce((x, y) => x + y, 0);
      const cut = total * (1 - o.percentile / 100);
      let i = 0;
      for (let s = 0; i < BINS - 1 && s + h[i] <= cut; i++) s += h[i];
      let j = BINS - 1;
      for (let s = 0; j > 0 && s + h[j] <= cut; j--) s += h[j];
      r = [a + i * step, a + j * step];
    }
    // Six significant digits: the recipe is readable and the build does not depend on the last float bit.
    ranges[t] = [+r[0].toPrecision(6), +r[1].toPrecision(6)];
  }
  return ranges;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({
    options: {
      'frames-every': { type: 'string', default: '30' },
      percentile: { type: 'string' },
      recipe: { type: 'string', default: RECIPE },
      out: { type: 'string' },
      'build-only': { type: 'boolean' },
      replan: { type: 'boolean' },
    },
  });
  const fp32 = readFileSync(join(filesDir(), 'yolox_nano.onnx'));
  let recipe: Int8Recipe;
  const g = onnx.ModelProto.decode(fp32).graph!;
  const keep = defaultFp32(g);
  // SiLU runs in fp32 (recipe silu 'fp32'): only what the int8 convs, adds and concats read and write is measured.
  const silu = (g.node ?? []).filter((n) => n.opType === 'Sigmoid' || n.opType === 'Mul').map((n) => n.name as string);
  const tensors = [...new Set(plan(g, new Set([...keep, ...silu])).values())];
  if (values['build-only']) recipe = JSON.parse(readFileSync(values.recipe, 'utf8'));
  else if (values.replan) {
    // Other nodes kept in fp32, the ranges already measured (each tensor's range does not depend on the plan).
    const measured = (JSON.parse(readFileSync(values.recipe, 'utf8')) as Int8Recipe).ranges;
    const missing = tensors.filter((t) => !measured[t]);
    if (missing.length) throw new Error(`no measured range for ${missing.join(', ')}: calibrate again`);
    recipe = { fp32: keep, silu: 'fp32', ranges: Object.fromEntries(tensors.map((t) => [t, measured[t]])) };
    writeFileSync(values.recipe, `${JSON.stringify(recipe, null, 1)}\n`);
  } else {
    const t0 = Date.now();
    const frames = await calibrationFrames({ everyS: Number(values['frames-every']) });
    console.log(`calibrating ${tensors.length} tensors on ${frames.length} frames`);
    // What a SiLU reads: the build cuts its range at SILU_FLOOR, so the search starts there.
    const afterSilu = new Set((g.node ?? []).filter((n) => n.opType === 'Sigmoid').map((n) => n.input![0]));
    const percentile = values.percentile === undefined ? undefined : Number(values.percentile);
    const ranges = await calibrate(fp32, tensors, frames, { percentile, afterSilu, siluFloor: SILU_FLOOR });
    console.log(`calibrated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    recipe = { fp32: keep, silu: 'fp32', ranges };
    writeFileSync(values.recipe, `${JSON.stringify(recipe, null, 1)}\n`);
    console.log(`recipe: ${values.recipe} (${keep.length} nodes kept in fp32)`);
  }
  const int8 = await buildInt8(fp32, recipe);
  const out = values.out ?? join(ROOT, 'data', 'yolox_nano_int8.onnx');
  writeFileSync(out, int8);
  console.log(`${out}: ${int8.length} bytes, sha256 ${sha256(int8)}`);
}
