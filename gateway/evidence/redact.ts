/**
 * Privacy for everyone else in the picture (PIPL): from the detector's boxes, the head and
 * upper body of each person and the plate region (the lower part) of each vehicle that is
 * not the event's subject are blurred; the subject's box is composited back sharp. The
 * original stays on the box; only the blurred copy leaves it unless an export is
 * --unredacted.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { Box } from '../zones/geometry.ts';
import { iou } from '../zones/geometry.ts';

export interface Seen {
  label: string;
  box: Box;
}

const PERSON = new Set(['person']);
const VEHICLE = new Set(['car', 'truck', 'bus', 'motorcycle']);

const clamp = (v: number) => Math.min(1, Math.max(0, v));

/** The regions to blur, normalised: what is not the subject, by class. */
export function privacyRegions(seen: readonly Seen[], subject: Box | null): Box[] {
  const out: Box[] = [];
  for (const s of seen) {
    if (subject && iou(s.box, subject) > 0.5) continue;
    const [x1, y1, x2, y2] = s.box;
    const w = x2 - x1;
    const h = y2 - y1;
    // A margin: the detector's box lags a walking person by up to a frame.
    const m = 0.15 * w;
    if (PERSON.has(s.label)) out.push([clamp(x1 - m), clamp(y1 - 0.05 * h), clamp(x2 + m), clamp(y1 + 0.45 * h)]);
    else if (VEHICLE.has(s.label)) out.push([clamp(x1 - m / 2), clamp(y1 + 0.5 * h), clamp(x2 + m / 2), clamp(y2 + 0.05 * h)]);
  }
  return out.filter(([a, b, c, d]) => c > a && d > b);
}

const px = (b: Box, W: number, H: number) => {
  const left = Math.max(0, Math.floor(b[0] * W));
  const top = Math.max(0, Math.floor(b[1] * H));
  return {
    left,
    top,
    width: Math.max(1, Math.min(W - left, Math.ceil(b[2] * W) - left)),
    height: Math.max(1, Math.min(H - top, Math.ceil(b[3] * H) - top)),
  };
};

/** Blurs `regions` of a JPEG, keeps `subject` sharp; returns the JPEG (unchanged bytes when nothing to blur). */
export async function redactJpeg(jpeg: Buffer, regions: readonly Box[], subject: Box | null): Promise<Buffer> {
  if (!regions.length) return jpeg;
  const img = sharp(jpeg).rotate();
  const { width: W = 0, height: H = 0 } = await img.metadata();
  if (!W || !H) throw new Error('not a picture');
  const base = await img.toBuffer();
  const layers: OverlayOptions[] = [];
  for (const r of regions) {
    const p = px(r, W, H);
    if (p.width < 2 || p.height < 2) continue;
    // Strong enough that a face of this size cannot be recognised: a tenth of the region.
    const sigma = Math.max(4, Math.min(p.width, p.height) / 6);
    layers.push({ input: await sharp(base).extract(p).blur(sigma).toBuffer(), left: p.left, top: p.top });
  }
  if (subject) {
    const p = px(subject, W, H);
    if (p.width > 1 && p.height > 1) layers.push({ input: await sharp(base).extract(p).toBuffer(), left: p.left, top: p.top });
  }
  return sharp(base).composite(layers).jpeg({ quality: 90 }).toBuffer();
}
