/**
 * Tiny ONNX detectors written to a temp folder with a manifest, for the formats we have
 * no real weights for. Each outputs known tensors (scripts/onnx-tools.ts), so the
 * decoders are exercised through onnxruntime itself, exactly as a real export would be.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyDetector, type TinyOutput } from '../../scripts/onnx-tools.ts';
import { loadManifest, type Manifest } from '../../gateway/detect/manifest.ts';

export const SIZE = 64;
export const tinyDir = mkdtempSync(join(tmpdir(), 'gw-tiny-'));

export interface TinySpec {
  id: string;
  labels: string[];
  outputs: TinyOutput[];
  batch?: 'dynamic' | number;
  /** Merged into the manifest (output section merged key by key). */
  manifest?: Record<string, unknown>;
  output?: Record<string, unknown>;
  inputSize?: number;
}

/** Writes model + manifest and returns the loaded manifest. */
export function tinyModel(spec: TinySpec): Manifest {
  const size = spec.inputSize ?? SIZE;
  const bytes = tinyDetector({ width: size, height: size, batch: spec.batch ?? 1, outputs: spec.outputs });
  const file = `${spec.id}.onnx`;
  writeFileSync(join(tinyDir, file), bytes);
  const manifest = {
    id: spec.id,
    file,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    labels: spec.labels,
    input: { width: SIZE, height: SIZE, channels: 'rgb', mean: [0, 0, 0], std: [255, 255, 255], resize: 'letterbox', pad: 114 },
    output: { decoder: 'yolov5', ...spec.output },
    score_threshold: 0.35,
    nms_iou: 0.45,
    ...spec.manifest,
  };
  const path = join(tinyDir, `${spec.id}.json`);
  writeFileSync(path, JSON.stringify(manifest));
  return loadManifest(path);
}

/** A frame of one grey value, `w` x `h`. */
export function grey(v: number, w = SIZE, h = SIZE): { data: Uint8Array; width: number; height: number } {
  return { data: new Uint8Array(w * h * 3).fill(v), width: w, height: h };
}

/** A detection as it should come out: label and box in input pixels of a w x h picture. */
export function px(box: readonly number[], w = SIZE, h = SIZE): number[] {
  return [box[0] / w, box[1] / h, box[2] / w, box[3] / h];
}

/** Transposes rows [N][K] into columns [K][N], flattened. */
export function columns(rows: number[][]): number[] {
  const K = rows[0].length;
  const out: number[] = [];
  for (let k = 0; k < K; k++) for (const r of rows) out.push(r[k]);
  return out;
}
