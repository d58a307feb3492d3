/**
 * YOLOX-Nano and NanoDet-m agree on the obvious objects of the sample pictures (the bus,
 * the people, the cars, the animals): every confident, not tiny detection of either model
 * has a detection of the same thing by the other model in the same place. "The same
 * thing" allows the vehicle and two-wheeler families the tracker also treats as one
 * (a pickup is a car to one model and a truck to the other). Complements model.test.ts,
 * which checks each model against the expected classes and boxes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import sharp from 'sharp';
import { Model } from '../../gateway/detect/model.ts';
import { loadManifest } from '../../gateway/detect/manifest.ts';
import type { Detection } from '../../gateway/detect/types.ts';
import { sameFamily } from '../../gateway/track/tracker.ts';
import { boxArea, iou } from '../../gateway/zones/geometry.ts';
import { MODELS_DIR } from '../../gateway/paths.ts';

const FILES = join(MODELS_DIR, 'files');
const IMAGES = ['bus.jpg', 'street.png', 'dog.jpg', 'person.jpg'];
const OBVIOUS = { score: 0.6, area: 0.01 };
const results = new Map<string, { yolox: Detection[]; nanodet: Detection[] }>();
const models: Model[] = [];

beforeAll(async () => {
  const [yolox, nanodet] = await Promise.all([
    Model.load(loadManifest('yolox_nano'), FILES, 2),
    Model.load(loadManifest('nanodet_m'), FILES, 2),
  ]);
  models.push(yolox, nanodet);
  for (const img of IMAGES) {
    const { data, info } = await sharp(join(FILES, img))
      .resize(416, 416, { fit: 'inside' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    results.set(img, {
      yolox: await yolox.detect(data, info.width, info.height),
      nanodet: await nanodet.detect(data, info.width, info.height),
    });
  }
});
afterAll(async () => {
  for (const m of models) await m.release();
});

const obvious = (d: Detection[]) => d.filter((x) => x.score >= OBVIOUS.score && boxArea(x.box) >= OBVIOUS.area);
const match = (x: Detection, others: Detection[]) =>
  Math.max(0, ...others.filter((y) => sameFamily(x.label, y.label)).map((y) => iou(x.box, y.box)));

describe.each(IMAGES)('%s', (img) => {
  it('every obvious YOLOX object is found by NanoDet in the same place (IoU >= 0.5), and the other way round', () => {
    const { yolox, nanodet } = results.get(img)!;
    const misses = [
      ...obvious(yolox)
        .filter((x) => match(x, nanodet) < 0.5)
        .map((x) => `YOLOX ${x.label} ${x.score.toFixed(2)} [${x.box.map((v) => v.toFixed(2))}]`),
      ...obvious(nanodet)
        .filter((x) => match(x, yolox) < 0.5)
        .map((x) => `NanoDet ${x.label} ${x.score.toFixed(2)} [${x.box.map((v) => v.toFixed(2))}]`),
    ];
    expect(misses).toEqual([]);
    expect(obvious(yolox).length + obvious(nanodet).length).toBeGreaterThan(0);
  });
});

it('the bus, three people, the cars: the things the issue names, by both models', () => {
  const count = (img: string, model: 'yolox' | 'nanodet', ...labels: string[]) =>
    results.get(img)![model].filter((d) => labels.includes(d.label)).length;
  for (const m of ['yolox', 'nanodet'] as const) {
    expect(count('bus.jpg', m, 'bus'), m).toBeGreaterThanOrEqual(1);
    expect(count('bus.jpg', m, 'person'), m).toBeGreaterThanOrEqual(3);
    expect(count('street.png', m, 'car'), m).toBeGreaterThanOrEqual(2);
    expect(count('street.png', m, 'person'), m).toBeGreaterThanOrEqual(4);
  }
  // The people of bus.jpg, one by one: each YOLOX person has its NanoDet counterpart.
  const { yolox, nanodet } = results.get('bus.jpg')!;
  const people = yolox.filter((d) => d.label === 'person' && d.score >= 0.5);
  expect(people.length).toBeGreaterThanOrEqual(3);
  for (const p of people)
    expect(
      match(
        p,
        nanodet.filter((d) => d.label === 'person'),
      ),
    ).toBeGreaterThanOrEqual(0.7);
});
