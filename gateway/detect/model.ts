/**
 * One loaded detector: an onnxruntime session shared by every camera that uses it, the
 * preprocessing buffer, the decoder and NMS. Everything is checked at load so that a
 * wrong model fails at start, by name, rather than producing nonsense at 3 a.m.
 */
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { Manifest } from './manifest.ts';
import { Preprocessor } from './preprocess.ts';
import { newCandidates, type Candidates, type Detection } from './types.ts';
import { nms } from './nms.ts';
import type { Decoder, DecoderContext } from './decoders/common.ts';
import { yoloxDecoder } from './decoders/yolox.ts';
import { nanodetDecoder } from './decoders/nanodet.ts';
import { verify } from '../assets/fetch.ts';

export class ModelError extends Error {}

const DECODERS: Partial<Record<Manifest['output']['decoder'], (ctx: DecoderContext) => Decoder>> = {
  yolox: yoloxDecoder,
  nanodet: nanodetDecoder,
};

export interface RunTiming {
  preMs: number;
  inferMs: number;
  postMs: number;
}

export class Model {
  readonly manifest: Manifest;
  readonly session: ort.InferenceSession;
  private readonly pre: Preprocessor;
  private readonly decoder: Decoder;
  private readonly cand: Candidates;
  private readonly input: ort.Tensor;
  private readonly inputName: string;
  private busy = false;

  private constructor(manifest: Manifest, session: ort.InferenceSession) {
    this.manifest = manifest;
    this.session = session;
    const { input, output } = manifest;
    const C = manifest.labelList.length;
    this.inputName = input.name ?? session.inputNames[0];
    if (!session.inputNames.includes(this.inputName))
      throw new ModelError(`model "${manifest.id}": input "${this.inputName}" not in the model (it has ${session.inputNames.join(', ')})`);
    const meta = session.inputMetadata.find((m) => m.name === this.inputName);
    if (meta && meta.isTensor) {
      const shape = meta.shape;
      const want = [3, input.height, input.width];
      const got = shape.slice(1).map(Number);
      if (shape.length !== 4 || got.some((d, i) => Number.isFinite(d) && d > 0 && d !== want[i]))
        throw new ModelError(`model "${manifest.id}": input shape is [${shape.join(',')}], the manifest says [1,3,${input.height},${input.width}]`);
    }
    const make = DECODERS[output.decoder];
    if (!make) throw new ModelError(`model "${manifest.id}": decoder "${output.decoder}" is not available`);
    const thresholds = new Float32Array(C).fill(manifest.score_threshold);
    for (const [label, t] of Object.entries(manifest.class_thresholds)) {
      const i = manifest.labelList.indexOf(label);
      if (i < 0) throw new ModelError(`model "${manifest.id}": class_thresholds names "${label}", which is not one of its labels`);
      thresholds[i] = t;
    }
    this.decoder = make({ width: input.width, height: input.height, numClasses: C, strides: output.strides, regMax: output.reg_max, thresholds, minThreshold: Math.min(...thresholds) });
    this.pre = new Preprocessor(input);
    this.input = new ort.Tensor('float32', this.pre.data, [1, 3, input.height, input.width]);
    this.cand = newCandidates(8400 * 4);
    this.checkOutputs();
  }

  private checkOutputs(): void {
    const C = this.manifest.labelList.length;
    const m = this.manifest;
    const outs = this.session.outputMetadata.filter((o) => o.isTensor) as { name: string; shape: readonly (number | string)[] }[];
    const last = outs.map((o) => Number(o.shape.at(-1)));
    const bad = (what: string) => new ModelError(`model "${m.id}": ${what}; labels file has ${C} classes (${m.path})`);
    if (m.output.decoder === 'yolox' && Number.isFinite(last[0]) && last[0] !== 5 + C) throw bad(`output rows have ${last[0]} values, expected 5 + ${C}`);
    if (m.output.decoder === 'nanodet' && Number.isFinite(last[0]) && last[0] !== C) throw bad(`score outputs have ${last[0]} classes`);
  }

  static async load(manifest: Manifest, filesDir: string, threads: number): Promise<Model> {
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
      });
    } catch (e) {
      throw new ModelError(`model "${manifest.id}": onnxruntime cannot load ${path}: ${(e as Error).message}`);
    }
    return new Model(manifest, session);
  }

  /**
   * Detects objects in an RGB frame that the capture already scaled to fit the model
   * input. Calls are serialised by the caller (the detector queue): buffers are shared.
   */
  async detect(rgb: Uint8Array, w: number, h: number, timing?: RunTiming): Promise<Detection[]> {
    if (this.busy) throw new Error(`model "${this.manifest.id}": detect() called while busy`);
    this.busy = true;
    try {
      const t0 = performance.now();
      this.pre.fill(rgb, w, h);
      const t1 = performance.now();
      const out = await this.session.run({ [this.inputName]: this.input });
      const t2 = performance.now();
      const dets = this.postprocess(this.session.outputNames.map((n) => out[n]), w, h);
      if (timing) {
        timing.preMs = t1 - t0;
        timing.inferMs = t2 - t1;
        timing.postMs = performance.now() - t2;
      }
      return dets;
    } finally {
      this.busy = false;
    }
  }

  /** Boxes come back normalised to the picture the model saw (w x h at the top-left). */
  private postprocess(outputs: ort.Tensor[], w: number, h: number): Detection[] {
    const c = this.cand;
    c.count = 0;
    this.decoder.decode(outputs, c);
    const keep = nms(c, this.manifest.nms_iou);
    const { input } = this.manifest;
    // Letterboxed: the picture occupies w x h pixels of the input. Stretched: all of it.
    const sx = input.resize === 'letterbox' ? w : input.width;
    const sy = input.resize === 'letterbox' ? h : input.height;
    const labels = this.manifest.labelList;
    return keep.map((i) => ({
      label: labels[c.classes[i]],
      score: c.scores[i],
      box: [clamp(c.boxes[i * 4] / sx), clamp(c.boxes[i * 4 + 1] / sy), clamp(c.boxes[i * 4 + 2] / sx), clamp(c.boxes[i * 4 + 3] / sy)] as const,
    }));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
