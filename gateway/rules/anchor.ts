/** Whether a thing is in a zone: by its foot, its centre, or a share of its box. */
import { centre, footPoint, pointInPolygon, type Box, type Pt } from '../zones/geometry.ts';
import type { Anchor } from './catalogue.ts';

/** A box counts as in the zone when at least this share of it is (anchor: box). */
export const BOX_SHARE = 0.25;
const GRID = 5;

export interface Area {
  polygon: readonly Pt[];
  mask: readonly (readonly Pt[])[];
  anchor: Anchor;
}

function inside(a: Area, x: number, y: number): boolean {
  return pointInPolygon(x, y, a.polygon) && !a.mask.some((m) => pointInPolygon(x, y, m));
}

/** The share of the box inside the zone and outside its masks, sampled on a 5 x 5 grid. */
export function shareInside(a: Area, b: Box): number {
  let n = 0;
  for (let i = 0; i < GRID; i++)
    for (let j = 0; j < GRID; j++) if (inside(a, b[0] + ((i + 0.5) / GRID) * (b[2] - b[0]), b[1] + ((j + 0.5) / GRID) * (b[3] - b[1]))) n++;
  return n / (GRID * GRID);
}

export function inArea(a: Area, b: Box): boolean {
  if (a.anchor === 'box') return shareInside(a, b) >= BOX_SHARE;
  const [x, y] = a.anchor === 'centre' ? centre(b) : footPoint(b);
  return inside(a, x, y);
}
