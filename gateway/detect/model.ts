/**
 * One loaded detector: an onnxruntime session, the preprocessing buffer, the decoder and
 * NMS. Everything is checked at load (weights' SHA-256, input shape, outputs against the
 * labels, by one real run) so that a wrong model fails at start, by name, rather than
 * producing nonsense at 3 a.m. In the gateway a Model lives in a worker thread
 * (host.ts), because session.run blocks its thread; tests and benchmarks use it directly.
 */
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { nmsBuiltin, type Manifest } from './manifest.ts';
import { Preprocessor } from './preprocess.ts';
import { newCandidates, type Candidates, type Detection, type Detector, type FrameLike, type RunTiming } from './types.ts';
import { Nms } from './nms.ts';
import type { Decoder } from './decoders/common.ts';
import { DECODER_FACTORIES } from './decoders/index.ts';
import { checkInput, checkOutputMetadata } from './checks.ts';
import { verify } from '../assets/fetch.ts';

export type { RunTiming } from './types.ts';

export class ModelError extends Error {}

export interface ModelOptions {
  /** Frames per session.run when the model's batch dimension is dynamic (default 1). */
  batch?: number;
  /** Accept frames larger than the input (or not the stretch size) and resample them. */
  resample?: boolean;
  /**
   * Let onnxruntime's threads spin between runs (its default): lowest latency, but the
   * spinning costs CPU that other models and ffmpeg could use.
   */
  spin?: boolean;
}

export class Model implements Detector {
  readonly manifest: Manifest;
  readonly session: ort.InferenceSession;
  /** Frames one run can take; a fixed batch above 1 is always run full. */
  readonly maxBatch: number;
  private readonly fixedBatch: boolean;
  private readonly pre: Preprocessor;
  private readonly decoder: Decoder;
  private readonly cand: Candidates;
  private readonly nms = new Nms();
  private readonly nmsIou: number;
  /** One input tensor per batch size, all views of the preprocessor's buffer, and its feeds. */
  private readonly inputs: ort.Tensor[] = [];
  private readonly feeds: Record<string, ort.Tensor>[] = [];
  private readonly outputs: ort.Tensor[] = [];
  private readonly inputName: string;
  private readonly one: FrameLike[] = [{ data: new Uint8Array(0), width: 0, height: 0 }];
  private busy = false;

  private constructor(manifest: Manifest, session: ort.InferenceSession, o: ModelOptions) {
    this.manifest = manifest;
    this.session = session;
    const { input, output } = manifest;
    const C = manifest.labelList.length;
    const fail = (msg: string) => new ModelError(`model "${manifest.id}": ${msg}`);
    this.inputName = input.name ?? session.inputNames[0];
    const batchDim = checkInput(manifest, session, this.inputName, fail);
    this.fixedBatch = batchDim !== 'dynamic';
    this.maxBatch = batchDim === 'dynamic' ? Math.max(1, Math.min(o.batch ?? 1, input.max_batch ?? Infinity)) : batchDim;
    checkOutputMetadata(manifest, session, fail);
    const thresholds = new Float32Array(C).fill(manifest.score_threshold);
    for (const [label, t] of Object.entries(manifest.class_thresholds)) {
      let i = manifest.labelList.indexOf(label);
      if (i < 0) i = manifest.rawLabels.indexOf(label);
      if (i < 0) throw fail(`class_thresholds names "${label}", which is not one of its labels`);
      thresholds[i] = t;
    }
    // A class the label_map drops is never above its threshold: the decoders skip it for free.
    manifest.labelList.forEach((l, i) => l === '' && (thresholds[i] = Infinity));
    let minThreshold = Infinity;
    for (const t of thresholds) minThreshold = Math.min(minThreshold, t);
    try {
      this.decoder = DECODER_FACTORIES[output.decoder]({
        width: input.width,
        height: input.height,
        numClasses: C,
        strides: output.strides,
        regMax: output.reg_max,
        anchorOffset: output.anchor_offset,
        thresholds,
        minThreshold,
        output,
        outputNames: session.outputNames,
      });
    } catch (e) {
      throw fail((e as Error).message);
    }
    this.nmsIou = nmsBuiltin(manifest) ? 1 : manifest.nms_iou;
    this.pre = new Preprocessor(input, this.maxBatch, { resample: o.resample });
    const plane = 3 * input.width * input.height;
    for (let b = 1; b <= this.maxBatch; b++) {
      if (this.fixedBatch && b !== this.maxBatch) continue;
      this.inputs[b] = new ort.Tensor('float32', this.pre.data.subarray(0, b * plane), [b, 3, input.height, input.width]);
      this.feeds[b] = { [this.inputName]: this.inputs[b] };
    }
    this.cand = newCandidates(1024);
  }

  static async load(manifest: Manifest, filesDir: string, threads: number, o: ModelOptions = {}): Promise<Model> {
    const path = join(filesDir, manifest.file);
    await verify({ file: manifest.file, sha256: manifest.sha256, bytes: manifest.bytes }, path).catch((e: Error) => {
      throw new ModelError(`model "${manifest.id}": ${e.message}`);
    });
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
        extra: { session: { intra_op: { allow_spinning: o.spin === false ? '0' : '1' } } },
      });
    } catch (e) {
      throw new ModelError(`model "${manifest.id}": onnxruntime cannot load ${path}: ${(e as Error).message}`);
    }
    try {
      const model = new Model(manifest, session, o);
      await model.warmUp();
      return model;
    } catch (e) {
      await session.release().catch(() => undefined);
      throw e;
    }
  }

  /**
   * One run on a blank frame: the first run is the slow one (allocations inside
   * onnxruntime), and it proves the decoder understands the real outputs.
   */
  private async warmUp(): Promise<void> {
    const { width, height } = this.manifest.input;
    const blank: FrameLike = { data: new Uint8Array(width * height * 3).fill(this.manifest.input.pad), width, height };
    try {
      await this.detectBatch(Array(this.maxBatch).fill(blank));
    } catch (e) {
      const m = this.manifest;
      throw new ModelError(`model "${m.id}": ${(e as Error).message}; labels file has ${m.labelList.length} classes (${m.path})`);
    }
  }

  /**
   * Detects objects in an RGB frame that the capture already scaled to fit the model
   * input. Calls are serialised by the caller (the detector queue): buffers are shared.
   */
  async detect(rgb: Uint8Array, w: number, h: number, timing?: RunTiming): Promise<Detection[]> {
    const one = this.one[0];
    one.data = rgb;
    one.width = w;
    one.height = h;
    return (await this.detectBatch(this.one, timing))[0];
  }

  /** Several frames (cameras) in one session.run; one list of detections per frame. */
  async detectBatch(frames: readonly FrameLike[], timing?: RunTiming): Promise<Detection[][]> {
    if (this.busy) throw new Error(`model "${this.manifest.id}": detect() called while busy`);
    if (frames.length > this.maxBatch)
      throw new Error(`model "${this.manifest.id}": ${frames.length} frames, the batch is at most ${this.maxBatch}`);
    this.busy = true;
    try {
      const t0 = performance.now();
      for (let i = 0; i < frames.length; i++) this.pre.fill(frames[i].data, frames[i].width, frames[i].height, i);
      const t1 = performance.now();
      const out = await this.session.run(this.feeds[this.fixedBatch ? this.maxBatch : frames.length]);
      const t2 = performance.now();
      const names = this.session.outputNames;
      for (let k = 0; k < names.length; k++) this.outputs[k] = out[names[k]];
      this.outputs.length = names.length;
      const result: Detection[][] = [];
      for (let i = 0; i < frames.length; i++) result.push(this.postprocess(this.outputs, i));
      if (timing) {
        timing.preMs = t1 - t0;
        timing.inferMs = t2 - t1;
        timing.postMs = performance.now() - t2;
      }
      return result;
    } finally {
      this.busy = false;
    }
  }

  /** Boxes come back normalised to the picture the model saw (top-left, or all of it). */
  private postprocess(outputs: ort.Tensor[], item: number): Detection[] {
    const c = this.cand;
    c.count = 0;
    this.decoder.decode(outputs, item, c);
    const keep = this.nms.run(c, this.nmsIou);
    const { input } = this.manifest;
    const sx = input.resize === 'letterbox' ? this.pre.pictureW[item] : input.width;
    const sy = input.resize === 'letterbox' ? this.pre.pictureH[item] : input.height;
    const labels = this.manifest.labelList;
    const dets: Detection[] = [];
    for (let k = 0; k < keep.length; k++) {
      const i = keep[k];
      const b = c.boxes;
      dets.push({
        label: labels[c.classes[i]],
        score: c.scores[i],
        box: [clamp(b[i * 4] / sx), clamp(b[i * 4 + 1] / sy), clamp(b[i * 4 + 2] / sx), clamp(b[i * 4 + 3] / sy)],
      });
    }
    return dets;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function clamp(v: number): number {
  return v < 0 ? 0 : Math.min(v, 1);
}
