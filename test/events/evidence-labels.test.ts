/**
 * Evidence picture readability (field finding): with several boxes close together the
 * labels were drawn on top of each other, and the header showed the zone's id. Labels
 * are laid out so they do not collide, on a dark plate, below the header bar.
 */
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { layoutLabels, overlaySvg, writeEvidence, type LabelRect } from '../../gateway/events/evidence.ts';
import type { Box } from '../../gateway/zones/geometry.ts';
import { filesDir } from '../../gateway/paths.ts';
import { tempDir } from '../helpers/gateway.ts';

const W = 640;
const H = 360;
const FS = Math.round(H / 22);
const HEADER = FS + 8;
/** Five cars in a row, overlapping, plus two boxes stacked right on top of one of them. */
const BOXES: { box: Box; label: string }[] = [
  ...[0, 1, 2, 3, 4].map((i) => ({ box: [0.1 + i * 0.14, 0.6, 0.3 + i * 0.14, 0.85] as Box, label: `car #${11 + i}` })),
  { box: [0.38, 0.58, 0.5, 0.84], label: 'truck #20' },
  { box: [0.39, 0.62, 0.49, 0.86], label: '三轮车 #21' },
];
const overlap = (a: LabelRect, b: LabelRect) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

describe('evidence labels', () => {
  it('no two label rectangles overlap, none covers the header bar, all stay in the picture', () => {
    const r = layoutLabels(BOXES, W, H, FS, HEADER);
    expect(r).toHaveLength(BOXES.length);
    for (let i = 0; i < r.length; i++) {
      for (let j = i + 1; j < r.length; j++) expect(overlap(r[i], r[j]), `${BOXES[i].label} / ${BOXES[j].label}`).toBe(false);
      expect(r[i].y).toBeGreaterThanOrEqual(HEADER);
      expect(r[i].y + r[i].h).toBeLessThanOrEqual(H);
      expect(r[i].x).toBeGreaterThanOrEqual(0);
      expect(r[i].x + r[i].w).toBeLessThanOrEqual(W);
    }
    // A lone box's label sits right above it.
    const [lone] = layoutLabels([{ box: [0.5, 0.5, 0.6, 0.7], label: 'car #1' }], W, H, FS, HEADER);
    expect(lone.y + lone.h).toBeCloseTo(0.5 * H, 5);
  });

  it('each label is drawn white on a dark plate, and the header carries the title given (the zone name)', () => {
    const svg = overlaySvg({ width: W, height: H, polygon: [], boxes: BOXES, title: 'illegal_parking 违章停车 cam-1 广场东侧', at: 0 });
    expect(svg.match(/fill="#000" fill-opacity="0.7"/g)).toHaveLength(BOXES.length);
    expect(svg).toContain('广场东侧');
    expect(svg).toContain('>三轮车 #21</text>');
  });

  it('renders on a real picture (written to a temp folder to look at)', async () => {
    const img = sharp(readFileSync(join(filesDir(), 'street.png')))
      .resize(W, H, { fit: 'fill' })
      .removeAlpha()
      .raw();
    const rgb = await img.toBuffer();
    const ev = await writeEvidence(tempDir('gw-ev-labels-'), {
      eventId: '01TESTLABELS00000000000000',
      rgb,
      width: W,
      height: H,
      polygon: [
        [0.05, 0.55],
        [0.98, 0.55],
        [0.98, 0.99],
        [0.05, 0.99],
      ],
      boxes: BOXES,
      title: 'illegal_parking 违章停车 cam-1 广场东侧',
      at: Date.UTC(2026, 11, 5, 2, 0, 0),
    });
    const meta = await sharp(ev.path).metadata();
    expect([meta.width, meta.height]).toEqual([W, H]);
    if (process.env.KEEP_EVIDENCE) console.log(ev.path);
  });
});
