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
export const E2E_COLUMNS = ['x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'w', 'h', 'score', 'class', 'batch', 'skip'] as const;
export type E2eColumn = (typeof E2E_COLUMNS)[number];

export const ManifestSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9_-]+$' }),
    description: Type.Optional(Type.String()),
    file: Type.String({ minLength: 1 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    bytes: Type.Optional(Type.Integer({ minimum: 1 })),
    url: Type.Optional(Type.String()),
    build: Type.Optional(
      Type.Object(
        {
          from: Type.String({ pattern: '^[A-Za-z0-9_-]+$', description: 'the model (manifest id) whose weights it is built from' }),
          recipe: Type.String({ minLength: 1, description: 'the int8 recipe next to the manifest: nodes kept in fp32, calibrated ranges' }),
          by: Type.Optional(Type.String({ description: 'the script that calibrated the recipe' })),
        },
        { additionalProperties: false, description: 'weights made on the box from another model (gateway models fetch), not downloaded' },
      ),
    ),
    licence: Type.Optional(Type.String()),
    labels: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String(), { minItems: 1 })], {
      description: 'a labels file next to the manifest (one class per line, in output order), or the list itself',
    }),
    label_map: Type.Record(Type.String(), Type.String(), {
      default: {},
      description: "rename model classes into the shared vocabulary, e.g. {'trash': 'garbage'}; an empty name drops the class",
    }),
    input: Type.Object(
      {
        name: Type.Optional(Type.String()),
        width: Type.Integer({ minimum: 16 }),
        height: Type.Integer({ minimum: 16 }),
        channels: Literals(['rgb', 'bgr'], { default: 'rgb' }),
        mean: Type.Tuple([Type.Number(), Type.Number(), Type.Number()], { default: [0, 0, 0] }),
        std: Type.Tuple([Type.Number(), Type.Number(), Type.Number()], {
          default: [1, 1, 1],
          description: 'pixel = (value - mean) / std, value in 0..255',
        }),
        resize: Literals(['letterbox', 'stretch'], { default: 'letterbox' }),
        pad: Type.Integer({ minimum: 0, maximum: 255, default: 114 }),
        max_batch: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 64,
            description: 'largest batch to send (default: detector.batch when the batch dimension is dynamic, else the fixed batch)',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    output: Type.Object(
      {
        decoder: Literals(DECODERS, {
          description:
            'yolox: [1,N,5+C] raw YOLOX head; nanodet: GFL scores+distributions per stride; yolov5: [1,N,5+C] decoded boxes with objectness (also YOLOv7, YOLOX exported with decode); yolov8: [1,4+C,N] Ultralytics YOLOv8/YOLO11 (no objectness); e2e: boxes, scores and classes with NMS done inside (SSD-style, YOLOv10, Ultralytics nms=True)',
        }),
        strides: Type.Array(Type.Integer({ minimum: 1 }), { default: [8, 16, 32] }),
        reg_max: Type.Integer({ minimum: 1, default: 7 }),
        anchor_offset: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0,
          description:
            'yolox, nanodet: anchor point = (cell + offset) * stride; 0.5 for NanoDet-m (cell centres), 0 for YOLOX and NanoDet-Plus',
        }),
        layout: Literals(['auto', 'rows', 'columns'], {
          default: 'auto',
          description: 'yolov5, yolov8: rows [1,N,K] or columns [1,K,N]; auto picks by the label count',
        }),
        boxes: Literals(['xyxy', 'yxyx', 'cxcywh', 'xywh'], { default: 'xyxy', description: 'e2e: box layout of the boxes tensor' }),
        normalised: Type.Boolean({ default: false, description: 'e2e: boxes in 0..1 rather than input pixels' }),
        columns: Type.Optional(
          Type.Array(Literals(E2E_COLUMNS), {
            minItems: 5,
            description: 'e2e: what each column of a combined detections tensor holds, e.g. ["x1","y1","x2","y2","score","class"]',
          }),
        ),
        class_offset: Type.Integer({
          minimum: 0,
          default: 0,
          description: 'e2e: subtracted from class ids (1 for TF/SSD exports where 0 is the background)',
        }),
        tensors: Type.Object(
          {
            detections: Type.Optional(
              Type.String({ description: 'the output to decode (yolox/yolov5/yolov8), or an e2e combined [1,N,columns] tensor' }),
            ),
            boxes: Type.Optional(Type.String()),
            scores: Type.Optional(Type.String()),
            classes: Type.Optional(Type.String()),
            count: Type.Optional(Type.String({ description: 'number of valid rows per image' })),
          },
          { additionalProperties: false, default: {}, description: 'output names, when they cannot be told apart by name or shape' },
        ),
        nms_builtin: Type.Optional(Type.Boolean({ description: 'the model does its own NMS (default: true for e2e, false otherwise)' })),
      },
      { additionalProperties: false },
    ),
    score_threshold: Type.Number({ minimum: 0, maximum: 1, default: 0.35 }),
    class_thresholds: Type.Record(Type.String(), Type.Number({ minimum: 0, maximum: 1 }), {
      default: {},
      description: "per class score threshold, by the model's or the mapped name",
    }),
    nms_iou: Type.Number({ minimum: 0, maximum: 1, default: 0.45 }),
  },
  { additionalProperties: false },
);

/**
 * `labelList` is the model's classes in output order, already renamed by `label_map` into
 * the shared vocabulary; a dropped class is an empty string. `rawLabels` are the names as
 * the model's labels file gives them.
 */
export type Manifest = Static<typeof ManifestSchema> & { path: string; labelList: string[]; rawLabels: string[] };

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
    labelList = readFileSync(lp, 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
  }
  for (const from of Object.keys(m.label_map))
    if (!labelList.includes(from)) throw new ManifestError(`${path}: label_map renames "${from}", which is not one of the model's labels`);
  return { ...m, path, labelList: labelList.map((l) => m.label_map[l] ?? l), rawLabels: labelList };
}

/** Whether the model's own graph does NMS (e2e exports), so the gateway must not. */
export function nmsBuiltin(m: Manifest): boolean {
  return m.output.nms_builtin ?? m.output.decoder === 'e2e';
}
