/**
 * A model manifest says everything the gateway needs to run a detector without code:
 * where the weights come from, how to feed them and how to read their output.
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname, isAbsolute } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Literals } from '../settings/schema.ts';
import { compile, dotted, pathOf, describe } from '../validate.ts';
import { MODELS_DIR } from '../paths.ts';

export const DECODERS = ['yolox', 'nanodet', 'yolov5', 'yolov8', 'e2e'] as const;

export const ManifestSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9_-]+$' }),
    description: Type.Optional(Type.String()),
    file: Type.String({ minLength: 1 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    bytes: Type.Optional(Type.Integer({ minimum: 1 })),
    url: Type.Optional(Type.String()),
    licence: Type.Optional(Type.String()),
    labels: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String(), { minItems: 1 })], {
      description: 'a labels file next to the manifest (one class per line, in output order), or the list itself',
    }),
    label_map: Type.Record(Type.String(), Type.String(), { default: {}, description: "rename model classes into the shared vocabulary, e.g. {'trash': 'garbage'}" }),
    input: Type.Object(
      {
        name: Type.Optional(Type.String()),
        width: Type.Integer({ minimum: 16 }),
        height: Type.Integer({ minimum: 16 }),
        channels: Literals(['rgb', 'bgr'], { default: 'rgb' }),
        mean: Type.Tuple([Type.Number(), Type.Number(), Type.Number()], { default: [0, 0, 0] }),
        std: Type.Tuple([Type.Number(), Type.Number(), Type.Number()], { default: [1, 1, 1], description: 'pixel = (value - mean) / std, value in 0..255' }),
        resize: Literals(['letterbox', 'stretch'], { default: 'letterbox' }),
        pad: Type.Integer({ minimum: 0, maximum: 255, default: 114 }),
      },
      { additionalProperties: false },
    ),
    output: Type.Object(
      {
        decoder: Literals(DECODERS),
        strides: Type.Array(Type.Integer({ minimum: 1 }), { default: [8, 16, 32] }),
        reg_max: Type.Integer({ minimum: 1, default: 7 }),
        boxes: Literals(['xyxy', 'cxcywh'], { default: 'xyxy', description: 'e2e: box layout' }),
        normalised: Type.Boolean({ default: false, description: 'e2e: boxes in 0..1 rather than input pixels' }),
      },
      { additionalProperties: false },
    ),
    score_threshold: Type.Number({ minimum: 0, maximum: 1, default: 0.35 }),
    class_thresholds: Type.Record(Type.String(), Type.Number({ minimum: 0, maximum: 1 }), { default: {} }),
    nms_iou: Type.Number({ minimum: 0, maximum: 1, default: 0.45 }),
  },
  { additionalProperties: false },
);

export type Manifest = Static<typeof ManifestSchema> & { path: string; labelList: string[] };

export class ManifestError extends Error {}

/** `id` is a manifest in the models folder, or a path to a .json manifest. */
export function manifestPath(idOrPath: string, dir = MODELS_DIR): string {
  if (idOrPath.endsWith('.json')) return isAbsolute(idOrPath) ? idOrPath : resolve(dir, idOrPath);
  return resolve(dir, `${idOrPath}.json`);
}

export function loadManifest(idOrPath: string, dir = MODELS_DIR): Manifest {
  const path = manifestPath(idOrPath, dir);
  if (!existsSync(path)) throw new ManifestError(`model "${idOrPath}": no manifest at ${path}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ManifestError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const validate = compile<Static<typeof ManifestSchema>>(ManifestSchema);
  if (!validate(raw)) {
    const lines = validate.errors!.map((e) => `  ${dotted(pathOf(e)) || '(top)'}: ${describe(e)}`);
    throw new ManifestError(`${path}: invalid model manifest:\n${lines.join('\n')}`);
  }
  const m = raw as Static<typeof ManifestSchema>;
  let labelList: string[];
  if (Array.isArray(m.labels)) labelList = m.labels;
  else {
    const lp = resolve(dirname(path), m.labels);
    if (!existsSync(lp)) throw new ManifestError(`${path}: labels file ${lp} does not exist`);
    labelList = readFileSync(lp, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  }
  labelList = labelList.map((l) => m.label_map[l] ?? l);
  return { ...m, path, labelList };
}
