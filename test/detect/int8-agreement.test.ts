/**
 * The int8 YOLOX-Nano (models/yolox_nano_int8.json, built from the fp32 file by
 * `gateway models fetch` with the committed recipe) agrees with the fp32 model: on the
 * sample pictures every confident detection of either has the same class in the other's
 * output with a box IoU of at least 0.8, and the scenario videos, run through the whole
 * gateway with each model, give the same events (type, zone, classes, time) with event
 * boxes of IoU at least 0.8. The build itself is checked against the manifest's SHA-256.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Model } from '../../gateway/detect/model.ts';
import { loadManifest } from '../../gateway/detect/manifest.ts';
import type { Detection } from '../../gateway/detect/types.ts';
import { fetchAll, listAssets, verify } from '../../gateway/assets/fetch.ts';
import { iou, type Box } from '../../gateway/zones/geometry.ts';
import { MODELS_DIR } from '../../gateway/paths.ts';
import { runScenarios, compareTimeline, type ScenarioResult } from '../../scripts/scenario-run.ts';
import type { ExpectedEvent } from '../../scripts/scenario.ts';
import { havePeers } from '../peers/require.ts';

const FILES = join(MODELS_DIR, 'files');
const IMAGES = ['bus.jpg', 'street.png', 'dog.jpg', 'person.jpg'];
/** Where int8 does not reach the bar (README, "The int8 YOLOX-Nano"): asserted to fail, so a fix shows. None now. */
const KNOWN_GAPS = new Set<string>();
// Four of the six measured scenarios (README), all side by side in one gateway per model (about
// half a minute each): the two that first fell short (street-vending's group box, out-of-store's
// umbrella) and two short ones.
const SCENARIOS = ['parking-row', 'river-intrusion', 'street-vending', 'out-of-store'];
/** The bar: the same thing, in the same place. */
const MIN_IOU = 0.8;
/** A detection this sure must be found by the other model; below, either may drop it near the 0.35 threshold. */
const CONFIDENT = 0.5;

let int8Dir = FILES;
let tmp: string | undefined;

beforeAll(async () => {
  const asset = listAssets().find((a) => a.file === 'yolox_nano_int8.onnx')!;
  const present =
    existsSync(join(FILES, asset.file)) &&
    (await verify(asset, join(FILES, asset.file)).then(
      () => true,
      () => false,
    ));
  if (!present) {
    // Built here exactly as `gateway models fetch` would, from the fetched fp32 file.
    tmp = mkdtempSync(join(tmpdir(), 'gw-int8-'));
    const reports = await fetchAll({ dir: tmp, mirror: FILES, only: ['yolox_nano_int8.onnx'] });
    expect(reports).toEqual([{ file: 'yolox_nano_int8.onnx', status: 'built', from: expect.stringContaining('yolox_nano.onnx') }]);
    int8Dir = tmp;
  }
}, 120_000);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The best IoU of `x` with a detection of the same class in `others`. */
const bestIou = (x: Detection, others: readonly Detection[]) =>
  Math.max(0, ...others.filter((y) => y.label === x.label).map((y) => iou(x.box, y.box)));

/** Confident detections of `a` without a same-class box of IoU >= MIN_IOU in `b`, described. */
function unmatched(a: readonly Detection[], b: readonly Detection[], who: string): string[] {
  return a
    .filter((x) => x.score >= CONFIDENT && bestIou(x, b) < MIN_IOU)
    .map((x) => `${who} ${x.label} ${x.score.toFixed(2)} [${x.box.map((v) => v.toFixed(3))}] best IoU ${bestIou(x, b).toFixed(2)}`);
}

describe('sample pictures', () => {
  const results = new Map<string, { fp32: Detection[]; int8: Detection[] }>();
  beforeAll(async () => {
    const fp32 = await Model.load(loadManifest('yolox_nano'), FILES, 2);
    const int8 = await Model.load(loadManifest('yolox_nano_int8'), int8Dir, 2);
    try {
      for (const img of IMAGES) {
        const { data, info } = await sharp(join(FILES, img))
          .resize(416, 416, { fit: 'inside' })
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true });
        results.set(img, {
          fp32: await fp32.detect(data, info.width, info.height),
          int8: await int8.detect(data, info.width, info.height),
        });
      }
    } finally {
      await fp32.release();
      await int8.release();
    }
  }, 60_000);

  const agreeing = IMAGES.filter((i) => !KNOWN_GAPS.has(i));
  if (KNOWN_GAPS.size)
    it.fails.each([...KNOWN_GAPS])('%s (known gap): not every confident detection has its twin at IoU >= 0.8', (img) => {
      const { fp32, int8 } = results.get(img)!;
      expect([...unmatched(fp32, int8, 'fp32'), ...unmatched(int8, fp32, 'int8')]).toEqual([]);
    });

  it.each(agreeing)('%s: every confident detection of either model is in the other, same class, IoU >= 0.8', (img) => {
    const { fp32, int8 } = results.get(img)!;
    expect([...unmatched(fp32, int8, 'fp32'), ...unmatched(int8, fp32, 'int8')]).toEqual([]);
    expect(fp32.filter((d) => d.score >= CONFIDENT).length).toBeGreaterThan(0);
  });
});

describe.runIf(havePeers('ffmpeg'))('scenario videos through the whole gateway', () => {
  let fp32: Map<string, ScenarioResult>;
  let int8: Map<string, ScenarioResult>;
  beforeAll(async () => {
    fp32 = await runScenarios(SCENARIOS);
    int8 = await runScenarios(SCENARIOS, { model: 'yolox_nano_int8', filesDir: int8Dir });
  }, 400_000);

  it.each(SCENARIOS)('%s: the same events, at the same time, boxes IoU >= 0.8, as expected by the scenario', (name) => {
    const a = fp32.get(name)!;
    const b = int8.get(name)!;
    const key = (e: ScenarioResult['events'][number]) => `${e.type} in ${e.zone}: ${[...e.classes].sort().join('+')}`;
    expect(b.events.map(key)).toEqual(a.events.map(key));
    // Events confirmed in the same second come in either order: each is paired with fp32's
    // event of the same kind whose box overlaps it most.
    for (const e of b.events) {
      const twin = a.events
        .filter((x) => key(x) === key(e))
        .sort((x, y) => iou(e.box as Box, y.box as Box) - iou(e.box as Box, x.box as Box))[0];
      expect(Math.abs(e.confirmedS - twin.confirmedS), key(e)).toBeLessThanOrEqual(2);
      expect(iou(e.box as Box, twin.box as Box), key(e)).toBeGreaterThanOrEqual(MIN_IOU);
    }
    expect(compareTimeline((b.scenario.expect ?? []) as ExpectedEvent[], b.events)).toEqual([]);
    // Every key frame is either analysed or skipped as still, in both runs: the int8 run lost
    // none. Which ones the still gate skips depends on event steps timed by the wall clock
    // while the video runs faster than real time, so the split may differ under load.
    const seenFrames = (r: ScenarioResult) => r.frames.length + r.stillSkipped;
    expect(seenFrames(b), "int8's key frames, analysed or skipped as still").toBe(seenFrames(a));
    expect(b.frames.length).toBeGreaterThan(0);
  });
});
